"""The step-through page: one self-contained HTML file with the circuit, controls and the trace.

Every step's texts are written here, in Python, from the trace's own data (gradcli.trace) and
embedded as JSON; the page's small script only shows and hides what a step names. So the page
and `gradcli trace` print the same numbers, formatted by the same code. Nothing is loaded from
the network: the SVG, the style and the script are inline. Without JavaScript the picture shows
every number at once, and the trace tables stand below it.
"""

from __future__ import annotations

import io
import json
from html import escape

from ..api import Result
from ..formatting import format_value
from ..i18n import current, tr, translator
from ..trace import Trace, build_trace, edge_formula
from .graph import GraphPicture
from .svg import Circuit, svg_element
from .trace import _factor, trace_view, via_text

_TRACE_WIDTH = 100  # columns of the trace tables under the picture

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; }
.controls { display: flex; gap: .5rem; align-items: center; margin: .5rem 0; flex-wrap: wrap; }
.controls button { font-size: 1rem; padding: .3rem .8rem; }
.controls button:focus-visible { outline: 3px solid #e69500; outline-offset: 2px; }
figure { margin: 0; overflow-x: auto; }
#panel { border: 1px solid #bbb; border-radius: 6px; padding: .5rem 1rem; margin: .5rem 0; min-height: 6rem;
         font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; }
#panel h2 { font-size: 1rem; margin: .2rem 0 .4rem; font-family: system-ui, sans-serif; }
#panel p { margin: .15rem 0; white-space: pre-wrap; }
#panel .sum { color: #c62828; font-weight: bold; }
.pending { visibility: hidden; }
.current polyline { stroke: #e69500; stroke-width: 4; }
.current circle { stroke: #e69500; stroke-width: 4; }
.current text.variable, .current text.constant { fill: #b36b00; }
pre { font-size: .85rem; background: #f7f7f7; padding: .8rem; overflow-x: auto; }
"""

PAGE_SCRIPT = """
(() => {
  const steps = JSON.parse(document.getElementById('steps').textContent);
  const revealed = new Set(steps.flatMap(step => step.show));
  const panel = document.getElementById('lines');
  const phase = document.getElementById('phase');
  const counter = document.getElementById('counter');
  let at = 0;
  function render() {
    const shown = new Set(steps.slice(0, at + 1).flatMap(step => step.show));
    for (const id of revealed) {
      const element = document.getElementById(id);
      if (element) element.classList.toggle('pending', !shown.has(id));
    }
    for (const element of document.querySelectorAll('.current')) element.classList.remove('current');
    for (const id of steps[at].highlight) {
      const element = document.getElementById(id);
      if (element) element.classList.add('current');
    }
    phase.textContent = steps[at].phase;
    panel.replaceChildren(...steps[at].lines.map(([text, css]) => {
      const line = document.createElement('p');
      line.textContent = text;
      if (css) line.className = css;
      return line;
    }));
    counter.textContent = steps[at].counter;
    document.getElementById('back').disabled = document.getElementById('first').disabled = at === 0;
    document.getElementById('next').disabled = document.getElementById('last').disabled = at === steps.length - 1;
  }
  function go(to) { at = Math.max(0, Math.min(steps.length - 1, to)); render(); }
  document.getElementById('first').addEventListener('click', () => go(0));
  document.getElementById('back').addEventListener('click', () => go(at - 1));
  document.getElementById('next').addEventListener('click', () => go(at + 1));
  document.getElementById('last').addEventListener('click', () => go(steps.length - 1));
  document.addEventListener('keydown', event => {
    const moves = {ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1,
                   Home: 0, End: steps.length - 1};
    if (event.key in moves && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      go(moves[event.key]);
    }
  });
  render();
})();
"""


class _Steps:
    """The page's steps: what each reveals and highlights (SVG ids) and the panel's lines."""

    def __init__(self, trace: Trace, circuit: Circuit, precision: int):
        self.trace = trace
        self.precision = precision
        self.t = translator()
        self.steps: list[dict] = []
        self.wire_of = {(wire.target, wire.slot): k for k, wire in enumerate(circuit.wires)}
        self.wires_from: dict[int, list[int]] = {}
        for k, wire in enumerate(circuit.wires):
            self.wires_from.setdefault(wire.source, []).append(k)
        self.output_wire = len(circuit.wires) - 1

    def number(self, value: float) -> str:
        return format_value(value, self.precision)

    def add(self, phase: str, lines: list[tuple[str, str]], show=(), highlight=()) -> None:
        self.steps.append({"phase": phase, "lines": lines, "show": list(show), "highlight": list(highlight)})

    def forward(self) -> None:
        """One step per node in evaluation order (a constant is given, not computed: its wire shows
        from the start): the node's value appears on every wire leaving it."""
        graph, labels, values = self.trace.graph, self.trace.labels, self.trace.result.values
        given = [f"v{k}" for node in graph.constants for k in self.wires_from.get(node, ())]
        self.add(self.t("Forward pass"), [(tr("→ or Next: the forward pass, node by node; then the backward pass"), "")],
                 show=given)
        for node in range(len(graph.ops)):
            if node in graph.constants and node != graph.output:
                continue
            value = self.number(values[node])
            if graph.ops[node] is None:
                lines = [(f"{labels[node]} = {value}", "")]
            else:
                inputs = ", ".join(f"{labels[j]} = {self.number(values[j])}" for j in graph.inputs[node])
                lines = [(f"{labels[node]} = {graph.formula(node, labels)} = {value}", ""), (inputs, "")]
            self.add(self.t("Forward pass"), lines, show=[f"v{k}" for k in self.wires_from.get(node, ())],
                     highlight=[f"n{node}"])

    def backward(self) -> None:
        """The output's gradient 1, then one step per edge from the output back: upstream × local =
        contribution; a branch node's sum fills in as its terms arrive, in the trace's order."""
        trace = self.trace
        graph, labels, values, out = trace.graph, trace.labels, trace.result.values, trace.output
        phase = self.t("Backward pass")
        output = graph.output
        if output not in trace.reached:
            return
        self.add(phase, [(f"∂{out}/∂{labels[output]} = {self.number(trace.result.grads[output])}", "")],
                 show=[f"g{self.output_wire}"], highlight=[f"w{self.output_wire}"])
        arrived: dict[int, set[int]] = {}  # branch node -> the terms (their index in Branch.terms) in so far
        for row in trace.backward:
            name = labels[row.node]
            upstream = self.number(row.grad)
            op = graph.ops[row.node]
            for edge in row.edges:
                source = labels[edge.input]
                local = self.number(edge.local)
                formula = edge_formula(graph, labels, row.node, edge.slot, values, self.t)
                lines = [(f"{name} = {graph.formula(row.node, labels)}    "
                          f"{self.t('upstream')} ∂{out}/∂{name} = {upstream}", "")]
                if op.gate:
                    lines.append((self.t(op.gate), ""))
                lines.append((f"∂{name}/∂{source} = " + (local if formula == local else f"{formula} = {local}"), ""))
                lines.append((tr("upstream × local = contribution: {product}",
                                 product=f"{upstream} × {_factor(local)} = {self.number(edge.contribution)}"), ""))
                k = self.wire_of[(row.node, edge.slot)]
                show = [f"g{k}"]
                branch = trace.branch_of.get(edge.input)
                if branch is not None:
                    index = branch.terms.index(edge)
                    arrived.setdefault(edge.input, set()).add(index)
                    lines.append((self.branch_line(branch, arrived[edge.input]), "sum"))
                    if len(arrived[edge.input]) == len(branch.terms):
                        show.append(f"s{edge.input}")
                self.add(phase, lines, show=show, highlight=[f"w{k}", f"n{row.node}"])

    def branch_line(self, branch, arrived: set[int]) -> str:
        """`∂f/∂y = ? (via a) + 3 (via b)` while terms arrive, `∂f/∂y = 2 (via a) + 3 (via b) = 5` when all have."""
        trace = self.trace
        terms = []
        for index, edge in enumerate(branch.terms):
            value = self.number(edge.contribution) if index in arrived else "?"
            terms.append(f"{value if index == 0 else _factor(value)} ({via_text(trace.graph, trace.labels, edge, self.t)})")
        line = f"∂{trace.output}/∂{trace.labels[branch.node]} = " + " + ".join(terms)
        return line + (f" = {self.number(branch.total)}" if len(arrived) == len(branch.terms) else "")

    def numbered(self) -> list[dict]:
        for index, step in enumerate(self.steps):
            step["counter"] = tr("step {index} of {count}", index=index + 1, count=len(self.steps))
        return self.steps


def page_steps(result: Result, precision: int) -> list[dict]:
    """The steps of the page for a result differentiated with record=True."""
    steps = _Steps(build_trace(result), Circuit(GraphPicture(result.graph, result, precision)), precision)
    steps.forward()
    steps.backward()
    return steps.numbered()


def trace_text(result: Result, precision: int) -> str:
    """The trace tables as `gradcli trace` prints them (no colour), for the page's readers."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=_TRACE_WIDTH, color_system=None, highlight=False).print(
        trace_view(build_trace(result), translator(), precision, None, _TRACE_WIDTH))
    return buffer.getvalue()


def _button(element_id: str, text: str, label: str) -> str:
    return f'<button type="button" id="{element_id}" aria-label="{escape(label)}">{escape(text)}</button>'


def html_page(picture: GraphPicture) -> str:
    """`trace --html FILE` and `graph --format html`: the page as one string (UTF-8)."""
    result = picture.result
    title = tr("gradcli graph of: {program}", program=picture.source_line())
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{current()}">',
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{PAGE_STYLE}</style></head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if result is not None:
        parts += [
            f'<div class="controls" role="toolbar" aria-label="{escape(tr("steps of the trace"))}">',
            _button("first", "« " + tr("Start"), tr("first step (Home)")),
            _button("back", "◀ " + tr("Back"), tr("previous step (left arrow)")),
            _button("next", tr("Next") + " ▶", tr("next step (right arrow)")),
            _button("last", tr("End") + " »", tr("last step (End)")),
            '<span id="counter" aria-live="polite"></span>',
            "</div>",
        ]
    parts.append(f"<figure>{svg_element(picture)}</figure>")
    if result is not None:
        steps = json.dumps(page_steps(result, picture.precision), ensure_ascii=False).replace("<", "\\u003c")
        parts += [
            '<section id="panel" aria-live="polite"><h2 id="phase"></h2><div id="lines"></div></section>',
            f"<section><h2>{escape(tr('The trace'))}</h2><pre>{escape(trace_text(result, picture.precision))}</pre>"
            "</section>",
            f'<script id="steps" type="application/json">{steps}</script>',
            f"<script>{PAGE_SCRIPT}</script>",
        ]
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
