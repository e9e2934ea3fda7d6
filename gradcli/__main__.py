"""`python -m gradcli` runs the command line."""

from .cli import run

run()
