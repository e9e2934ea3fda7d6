"""Pictures: the layered layout, the circuit as SVG and the step-through page.

The layout is checked by its geometry alone (boxes apart, wires left to right, crossings counted
from the coordinates); the SVG is read back with an XML parser and its numbers compared with the
trace's; and a real headless Chromium looks at both as a person would: the texts it renders do not
overlap, and the page steps through the trace with the keyboard and with clicks.
"""

from __future__ import annotations

import os
import random
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from gradcli.api import differentiate
from gradcli.errors import LimitError
from gradcli.formatting import format_value
from gradcli.i18n import choose
from gradcli.parse import parse
from gradcli.render.graph import GraphPicture
from gradcli.render.layout import COLUMN_GAP, crossings
from gradcli.render.svg import Circuit, svg_text
from gradcli.trace import build_trace

from browser import Browser, chromium_path
from conftest import seed_examples

SVG = "{http://www.w3.org/2000/svg}"
SEEDS = {example["name"]: example for example in seed_examples()}
# Two seed examples cannot be drawn left to right without a crossing, whatever the order:
# binary-xent: y, an input (so on the left), feeds both products of the loss, and a feeds both
#   too; y's two paths would have to enclose a and the chain w*x + b, whose inputs are on the left.
# softmax-xent: s feeds the three divisions, each also fed by its own exp: a spider with three
#   legs of length two is not drawable in two layers without a crossing, and the legs rejoin in L.
UNAVOIDABLE_CROSSINGS = {"binary-xent": 1, "softmax-xent": 6}


def picture_of(source: str, at: dict | None, precision: int = 6) -> GraphPicture:
    graph = parse(source)
    result = differentiate(graph, at, record=True) if at is not None else None
    return GraphPicture(graph, result, precision)


def random_program(seed: int, statements: int) -> tuple[str, dict]:
    """A program of named steps over a few variables and small constants, with a point where it has a value."""
    rng = random.Random(seed)
    names = ["x", "y", "z", "w"][: rng.randint(1, 4)]
    at = {name: rng.randint(-3, 3) for name in names}
    lines = []
    for k in range(statements):
        a, b = rng.choice(names), rng.choice(names + ["2", "1"])
        shape = rng.choice(["{a} + {b}", "{a} * {b}", "{a} - {b}", "max({a}, {b})", "{a} * ({b} + {a})"])
        lines.append(f"s{k} = " + shape.format(a=a, b=b))
        names.append(f"s{k}")
    return "; ".join(lines), at


def boxes_of(circuit: Circuit, layout) -> list[tuple[float, float, float, float, str]]:
    """Every node's box and every wire's label box, as (left, top, right, bottom, what)."""
    boxes = []
    for node in range(circuit.count):
        left, top = layout.boxes[node]
        size = circuit.node_size(node)
        boxes.append((left, top, left + size.width, top + size.height, f"node {circuit.picture.labels[node]}"))
    for k, wire in enumerate(circuit.wires):
        if layout.labels[k] is not None:
            left, top = layout.labels[k]
            size = circuit.label_size(wire)
            boxes.append((left, top, left + size.width, top + size.height, f"label of wire {k}"))
    return boxes


def overlapping(boxes) -> list[tuple[str, str]]:
    found = []
    for k, (left, top, right, bottom, what) in enumerate(boxes):
        for other_left, other_top, other_right, other_bottom, other in boxes[k + 1:]:
            if left < other_right and other_left < right and top < other_bottom and other_top < bottom:
                if right > left and other_right > other_left:  # a zero-width box (a wire's end) takes no room
                    found.append((what, other))
    return found


# ----- the layout, by its geometry -----

PROGRAMS = [(example["expression"], example["at"], name) for name, example in SEEDS.items()]
PROGRAMS += [(*random_program(seed, random.Random(seed).randint(5, 25)), f"random-{seed}") for seed in range(25)]


@pytest.mark.parametrize("source, at, name", PROGRAMS, ids=[name for *_, name in PROGRAMS])
def test_no_two_boxes_overlap_and_every_wire_runs_left_to_right(source, at, name):
    circuit = Circuit(picture_of(source, at))
    layout = circuit.lay_out()
    assert overlapping(boxes_of(circuit, layout)) == []
    for k, route in enumerate(layout.routes):
        xs = [x for x, _ in route]
        assert xs == sorted(xs) and xs[0] < xs[-1], f"wire {k} turns back: {route}"
        assert all(x1 - x0 <= COLUMN_GAP + 1e-9 or y0 == y1 for (x0, y0), (x1, y1) in zip(route, route[1:])), \
            "a wire slants only between two columns"
    source_column = {k: layout.boxes[wire.source][0] for k, wire in enumerate(circuit.wires)}
    for k, wire in enumerate(circuit.wires):
        if wire.target is not None:
            assert layout.boxes[wire.target][0] > source_column[k], "a gate stands right of its inputs"


@pytest.mark.parametrize("name", list(SEEDS))
def test_the_seed_examples_are_drawn_without_crossing_wires(name):
    example = SEEDS[name]
    layout = Circuit(picture_of(example["expression"], example["at"])).lay_out()
    assert crossings(layout) == UNAVOIDABLE_CROSSINGS.get(name, 0)


def test_crossings_are_counted_from_the_coordinates():
    """The witness itself: two wires that swap sides between two columns cross once."""
    from gradcli.render.layout import Layout

    gap_start, gap_end = 100.0, 100.0 + COLUMN_GAP
    swapped = Layout([], [], [[(gap_start, 0.0), (gap_end, 50.0)], [(gap_start, 50.0), (gap_end, 0.0)]], [], 0, 0)
    parallel = Layout([], [], [[(gap_start, 0.0), (gap_end, 0.0)], [(gap_start, 50.0), (gap_end, 50.0)]], [], 0, 0)
    shared_end = Layout([], [], [[(gap_start, 0.0), (gap_end, 25.0)], [(gap_start, 50.0), (gap_end, 25.0)]], [], 0, 0)
    assert (crossings(swapped), crossings(parallel), crossings(shared_end)) == (1, 0, 0)


def test_a_picture_too_big_to_read_is_refused_with_a_reason():
    # x feeds every step of a long chain: each use is a wire across all the columns before it.
    source = "x" + "".join(" * x + 1" for _ in range(400))
    with pytest.raises(LimitError, match="--format dot"):
        Circuit(picture_of(source, None)).lay_out()


# ----- the SVG, read back -----


def read_svg(text: str) -> ElementTree.Element:
    return ElementTree.fromstring(text.encode("utf-8"))


def numbers_of(root: ElementTree.Element, css: str) -> dict[str, str]:
    """id -> the number a text of class `css` shows."""
    return {element.get("id"): element.get("data-number") for element in root.iter(f"{SVG}text")
            if element.get("class") == css}


@pytest.mark.parametrize("name", list(SEEDS))
def test_the_svg_shows_the_traces_numbers_on_its_wires(name):
    example = SEEDS[name]
    picture = picture_of(example["expression"], example["at"])
    trace = build_trace(picture.result)
    root = read_svg(svg_text(picture))
    contributions = {(row.node, edge.slot): edge.contribution for row in trace.backward for edge in row.edges}
    values, gradients = numbers_of(root, "value"), numbers_of(root, "grad")
    seen = 0
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "edge":
            continue
        k = group.get("id")[1:]
        source = int(group.get("data-source")[1:])
        assert values[f"v{k}"] == format_value(trace.result.values[source], 6)
        target = group.get("data-target")
        if target == "out":
            assert gradients[f"g{k}"] == "1"
            continue
        key = (int(target[1:]), int(group.get("data-slot")))
        if key in contributions:
            assert gradients[f"g{k}"] == format_value(contributions[key], 6)
            seen += 1
        else:
            assert f"g{k}" not in gradients  # no gradient flows into a constant
    assert seen == sum(len(row.edges) for row in trace.backward)
    labels = {group.get("id"): group.get("data-label") for group in root.iter(f"{SVG}g")
              if "node" in (group.get("class") or "")}
    assert labels == {f"n{node}": label for node, label in enumerate(trace.labels)}
    sums = {element.get("id"): element.text for element in root.iter(f"{SVG}text") if element.get("class") == "sum"}
    assert set(sums) == {f"s{branch.node}" for branch in trace.branches}
    for branch in trace.branches:
        shown = re.findall(r"-?[\d.]+(?:e[-+]?\d+)?", sums[f"s{branch.node}"].split("=", 1)[1])
        assert shown == [format_value(edge.contribution, 6) for edge in branch.terms] + [format_value(branch.total, 6)]


def test_the_gates_show_the_op_tables_symbols():
    root = read_svg(svg_text(picture_of("f = exp(max(x, y) * z) / (x + 1)", {"x": 1, "y": 2, "z": 0.5})))
    gates = sorted(element.text for element in root.iter(f"{SVG}text") if element.get("class") == "op")
    assert gates == sorted(["max", "*", "exp", "+", "/"])


def test_without_a_point_the_svg_has_the_circuit_and_no_numbers():
    root = read_svg(svg_text(picture_of("q = x + y; f = q * z", None)))
    classes = [element.get("class") for element in root.iter(f"{SVG}text")]
    assert "value" not in classes and "grad" not in classes
    assert classes.count("op") == 2 and classes.count("variable") == 3


def test_names_in_any_script_are_escaped_utf8_and_the_legend_speaks_japanese():
    source = "価格 = りんご * 個数; total = 価格 * (θ + 1)  # <b>&\"quoted\"</b>"
    try:
        choose("ja")
        text = svg_text(picture_of(source, {"りんご": 100, "個数": 2, "θ": 0.1}))
    finally:
        choose("en")
    root = read_svg(text)  # would raise on an unescaped < or &
    shown = [element.text for element in root.iter(f"{SVG}text")]
    assert {"価格", "りんご", "個数", "θ"} <= set(shown)
    assert any("勾配" in line for line in shown)  # the legend
    assert text.encode("utf-8").decode("utf-8") == text


def test_graph_format_svg_through_the_cli(cli):
    run = cli("graph", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--format", "svg")
    assert run.code == 0, run.stderr
    values = numbers_of(read_svg(run.stdout), "value")
    assert sorted(values.values(), key=float) == sorted(["-2", "5", "3", "-4", "-12"], key=float)


# ----- in a real browser -----

NEED_BROWSER = bool(os.environ.get("GRADCLI_NEED_BROWSER"))
CHROMIUM = chromium_path()
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not NEED_BROWSER,
    reason="no Chromium installed (apt-get install chromium); set GRADCLI_NEED_BROWSER=1 to make this a failure",
)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("GRADCLI_NEED_BROWSER is set but no chromium is installed")
    with Browser(CHROMIUM) as opened:
        yield opened


TEXT_BOXES = """[...document.querySelectorAll('text')].map(t => {
  const r = t.getBoundingClientRect(); return [t.textContent, r.left, r.top, r.right, r.bottom]; })"""


def rendered_overlaps(browser: Browser) -> list[tuple[str, str]]:
    boxes = [(left, top, right, bottom, text) for text, left, top, right, bottom in browser.evaluate(TEXT_BOXES)]
    return overlapping(boxes)


@needs_browser
@pytest.mark.parametrize("name", ["circuit", "branch-y", "neuron-expanded", "binary-xent", "softmax-xent"])
def test_in_chromium_no_two_texts_of_the_svg_overlap(browser, tmp_path, name):
    example = SEEDS[name]
    path = tmp_path / f"{name}.svg"
    path.write_text(svg_text(picture_of(example["expression"], example["at"])), encoding="utf-8")
    browser.open(path)
    assert browser.errors() == []
    assert browser.evaluate("document.querySelectorAll('text').length") > 5
    assert rendered_overlaps(browser) == []
    browser.screenshot(tmp_path / f"{name}.png")


@needs_browser
def test_in_chromium_japanese_and_greek_names_fit_their_boxes(browser, tmp_path):
    path = tmp_path / "ja.svg"
    try:
        choose("ja")
        path.write_text(svg_text(picture_of("価格 = りんご * 個数; 合計 = 価格 * (θ + 1)",
                                             {"りんご": 100, "個数": 2, "θ": 0.1})), encoding="utf-8")
    finally:
        choose("en")
    browser.open(path)
    assert rendered_overlaps(browser) == []


# ----- the step-through page, in Chromium -----

PANEL = "document.getElementById('panel').innerText"
COUNTER = "document.getElementById('counter').textContent"
SHOWN_NUMBERS = """Object.fromEntries([...document.querySelectorAll('text[data-number]')]
  .filter(t => getComputedStyle(t).visibility !== 'hidden').map(t => [t.id, t.dataset.number]))"""
PRODUCT = re.compile(r"(-?[\d.e+-]+) × \(?(-?[\d.e+-]+)\)? = (-?[\d.e+-]+)")


def page_file(tmp_path: Path, source: str, at: dict, lang: str = "en") -> Path:
    from gradcli.render.html import html_page

    path = tmp_path / "page.html"
    try:
        choose(lang)
        path.write_text(html_page(picture_of(source, at)), encoding="utf-8")
    finally:
        choose("en")
    return path


def step_count(browser: Browser) -> int:
    return int(re.search(r"(\d+)\D*$", browser.evaluate(COUNTER)).group(1))


BRANCH = SEEDS["branch-y"]


@needs_browser
def test_in_chromium_the_arrow_keys_step_through_the_trace_with_its_numbers(browser, tmp_path):
    browser.open(page_file(tmp_path, BRANCH["expression"], BRANCH["at"]))
    trace = build_trace(picture_of(BRANCH["expression"], BRANCH["at"]).result)
    assert browser.evaluate(SHOWN_NUMBERS) == {}  # nothing computed yet (no constants here)
    panels = [browser.evaluate(PANEL)]
    shown = [browser.evaluate(SHOWN_NUMBERS)]
    for _ in range(step_count(browser) - 1):
        browser.press("ArrowRight")
        panels.append(browser.evaluate(PANEL))
        shown.append(browser.evaluate(SHOWN_NUMBERS))
    assert browser.errors() == []
    # The forward pass: a step per node, saying its value as the trace's forward table does.
    node_lines = [[line for line in panel.split("\n") if line][1] for panel in panels[1:] if "∂" not in panel]
    for node, value in enumerate(trace.result.values):
        if node not in trace.graph.constants:
            assert any(line.startswith(f"{trace.labels[node]} = ") and line.endswith(f"= {format_value(value, 6)}")
                       for line in node_lines), trace.labels[node]
    # The backward pass: one panel per edge, upstream × local = contribution as the trace has them.
    products = [float(number) for panel in panels if PRODUCT.search(panel) for number in PRODUCT.search(panel).groups()]
    expected = [number for row in trace.backward for edge in row.edges
                for number in (row.grad, edge.local, edge.contribution)]
    assert products == pytest.approx(expected, rel=1e-5)
    # The branch sum fills in as its terms arrive, in the trace's order, and adds up.
    assert any("∂f/∂y = ? (via a) + 3 (via b)" in panel for panel in panels)
    assert any("∂f/∂y = 2 (via a) + 3 (via b) = 5" in panel for panel in panels)
    # At the end every wire shows the trace's numbers and the branch sum stands under y.
    final = shown[-1]
    root = read_svg(svg_text(picture_of(BRANCH["expression"], BRANCH["at"])))
    assert final == {**numbers_of(root, "value"), **numbers_of(root, "grad")}
    assert browser.evaluate("getComputedStyle(document.getElementById('s1')).visibility") == "visible"
    assert rendered_overlaps(browser) == []
    # And back: the left arrow hides what the later steps showed.
    browser.press("ArrowLeft", 3)
    assert browser.evaluate(SHOWN_NUMBERS) == shown[-4]


@needs_browser
def test_in_chromium_the_buttons_work_with_clicks_and_with_the_keyboard_alone(browser, tmp_path):
    browser.open(page_file(tmp_path, BRANCH["expression"], BRANCH["at"]))
    total = step_count(browser)
    browser.click("#last")
    assert browser.evaluate(COUNTER) == f"step {total} of {total}"
    browser.click("#back")
    browser.click("#back")
    assert browser.evaluate(COUNTER) == f"step {total - 2} of {total}"
    browser.click("#first")
    assert browser.evaluate(COUNTER) == f"step 1 of {total}"
    assert browser.evaluate("document.getElementById('back').disabled")
    # Keyboard alone: Tab reaches the buttons (the disabled ones are skipped), Enter presses one.
    browser.evaluate("document.activeElement.blur()")
    browser.press("Tab")
    assert browser.evaluate("document.activeElement.id") == "next"
    assert browser.evaluate("document.activeElement.getAttribute('aria-label')") == "next step (right arrow)"
    browser.press("Enter")
    browser.press("Enter")
    assert browser.evaluate(COUNTER) == f"step 3 of {total}"
    browser.press("End")
    assert browser.evaluate(COUNTER) == f"step {total} of {total}"
    assert browser.errors() == []


@needs_browser
def test_in_chromium_the_page_speaks_japanese(browser, tmp_path):
    browser.open(page_file(tmp_path, BRANCH["expression"], BRANCH["at"], lang="ja"))
    assert browser.evaluate("document.documentElement.lang") == "ja"
    browser.press("End")
    assert "逆伝播" in browser.evaluate(PANEL)
    assert "順伝播" in browser.evaluate("document.querySelector('pre').textContent")
    assert rendered_overlaps(browser) == []


def test_the_page_loads_nothing_from_the_network(tmp_path):
    text = page_file(tmp_path, "f = 1/(1+exp(-(w0*x0+w1*x1+w2)))", SEEDS["neuron-expanded"]["at"]).read_text("utf-8")
    assert not re.search(r"""(src|href)\s*=|@import|url\(|https?://(?!www\.w3\.org/2000/svg)""", text)


def test_trace_html_through_the_cli(cli, tmp_path):
    page = tmp_path / "branch.html"
    run = cli("trace", "--file", str(Path(__file__).parent.parent / "examples" / "cs224n-branch.grad"),
              "--at", "x=1,y=2,z=0", "--html", str(page))
    assert run.code == 0, run.stderr
    assert "2 (via a) + 3 (via b) = 5" in page.read_text("utf-8")


def test_vectors_are_refused_by_the_picture_with_a_reason(cli):
    run = cli("graph", "sum(W @ x)", "--at", "W=[[1,2],[3,4]],x=[1,-1]", "--format", "svg")
    assert run.code == 2
    assert "vectors and matrices are not drawn yet" in run.stderr
