"""Renderers: they take results (never the parser's internals) and return text or renderables."""
