"""`gradcli worksheet`: the trace as an exercise. The sheets are read back as a reader sees them
(Markdown tables, HTML tables, the printed command) and compared with `trace --json`, which
builds its numbers apart from the worksheet's renderer; the printed check command is run."""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import at_option, run_cli, seed_examples

from gradcli.errors import ExitStatus

CIRCUIT = ("q = x + y; f = q * z", "--at", "x=-2,y=5,z=-4")
BRANCHY = ("a = x + y; b = max(y, z); f = a * b", "--at", "x=1,y=2,z=0")  # ∂f/∂y = 2 (via a) + 3 (via b) = 5
PROGRAMS = [CIRCUIT, BRANCHY, ("y1 = 2*x; y2 = x^2; z = y1 + y2", "--at", "x=3"),
            ("sigmoid(w0*x0 + w1*x1 + w2)", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3")]
BLANK_MD = r"\_\_\_\_\_\_"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
SVG = "{http://www.w3.org/2000/svg}"


# ----- reading a sheet back -----

def _unescape(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell.strip())


def markdown_tables(part: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headings, rows) of each table under a `## title`, cells as written (BLANK_MD kept)."""
    tables, title, lines = [], None, part.splitlines()
    k = 0
    while k < len(lines):
        if lines[k].startswith("## "):
            title = _unescape(lines[k][3:])
        if lines[k].startswith("|"):
            rows = []
            while k < len(lines) and lines[k].startswith("|"):
                rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", lines[k])[1:-1]])
                k += 1
            tables.append((title, [_unescape(c) for c in rows[0]], rows[2:]))
        k += 1
    return tables


def sheet_and_key(text: str) -> tuple[str, str]:
    sheet, key = text.split("\n---\n")
    return sheet, key


def code_block(part: str) -> str:
    return part.split("```sh\n")[1].split("```")[0]


class _HtmlTables(HTMLParser):
    """Each table of a page as (headings, rows of (text, class)), and the text of every <pre>."""

    def __init__(self):
        super().__init__()
        self.tables, self.pre, self.in_cell, self.in_pre = [], [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self.in_cell = [tag, "", dict(attrs).get("class") or ""]
        elif tag == "pre":
            self.in_pre = True
            self.pre.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            kind, text, css = self.in_cell
            if kind == "th":
                self.tables[-1][0].append(text)
            else:
                self.tables[-1][1][-1].append((text, css))
            self.in_cell = None
        elif tag == "pre":
            self.in_pre = False

    def handle_data(self, data):
        if self.in_cell is not None:
            self.in_cell[1] += data
        if self.in_pre:
            self.pre[-1] += data


def html_tables(text: str) -> _HtmlTables:
    parser = _HtmlTables()
    parser.feed(text)
    parser.tables = [(headings, [row for row in rows if row]) for headings, rows in parser.tables]
    return parser


def trace_json(program) -> dict:
    run = run_cli("trace", *program, "--json")
    assert run.code == 0, run.stderr
    return run.json()


def expected_blank(title: str, heading: str, row: list[str], blank: str, output: str) -> bool:
    """Which cells the issue says a sheet leaves empty, by table and column (the row for the exceptions:
    a variable's value, the output's own gradient 1, a continuation row's empty node)."""
    forward, backward = blank in ("forward", "both"), blank in ("backward", "both")
    if title == "Forward pass":
        return forward and heading == "value" and row[2] not in ("variable", "constant")
    if title == "Backward pass":
        if heading.startswith("upstream"):
            return backward and row[0] not in ("", output)
        return backward and heading in ("rule", "local gradient", "contribution")
    if title == "Branch nodes":
        return backward and heading == "contribution"
    return backward and heading.startswith("∂")


def number(cell: str) -> float:
    return float(cell.strip("*"))


# ----- the blanks and the key -----


@pytest.mark.parametrize("blank", ["forward", "backward", "both"])
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda program: program[0])
def test_markdown_blanks_exactly_the_chosen_cells_and_the_key_fills_them(program, blank):
    run = run_cli("worksheet", *program, "--blank", blank)
    assert run.code == 0, run.stderr
    sheet, key = sheet_and_key(run.stdout)
    sheet_tables, key_tables = markdown_tables(sheet), markdown_tables(key)
    assert [t[0] for t in sheet_tables] == [t[0] for t in key_tables]
    assert sheet_tables[0][0] == "Forward pass" and sheet_tables[-1][0] == "Gradient"
    output = trace_json(program)["output"]
    blanks = 0
    for (title, headings, rows), (_, _, key_rows) in zip(sheet_tables, key_tables):
        assert len(rows) == len(key_rows)
        for row, key_row in zip(rows, key_rows):
            for heading, cell, answer in zip(headings, row, key_row):
                wanted = expected_blank(title, heading, [_unescape(c) for c in key_row], blank, output)
                assert (cell == BLANK_MD) == wanted, (title, heading, row)
                if wanted:
                    blanks += 1
                    assert answer.startswith("**") and answer.endswith("**") and answer != "****"
                else:
                    assert answer == cell
    assert blanks > 0


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda program: program[0])
def test_the_answer_key_is_the_trace(program):
    """Every number of the key against `trace --json`: values, locals, contributions, branch sums, gradient."""
    trace = trace_json(program)
    document = trace["trace"]
    run = run_cli("worksheet", *program, "--blank", "both")
    tables = {title: (headings, rows) for title, headings, rows in markdown_tables(sheet_and_key(run.stdout)[1])}

    values = {step["node"]: step["value"] for step in document["forward"]}
    for row in tables["Forward pass"][1]:
        assert number(row[3]) == pytest.approx(values[_unescape(row[1])], rel=1e-5)

    edges = [(row["node"], edge, row["grad"]) for row in document["backward"] for edge in row["edges"]]
    shown = tables["Backward pass"][1]
    assert len(shown) == len(edges)
    for row, (node, edge, upstream) in zip(shown, edges):
        assert _unescape(row[2]) == f"∂{node}/∂{edge['input']}"
        if row[0]:
            assert _unescape(row[0]) == node and number(row[1]) == pytest.approx(upstream, rel=1e-5)
        assert number(row[4]) == pytest.approx(edge["local"], rel=1e-5, abs=1e-12)
        assert number(row[5]) == pytest.approx(edge["contribution"], rel=1e-5, abs=1e-12)

    if document["branches"]:
        rows = iter(tables["Branch nodes"][1])
        for branch in document["branches"]:
            for term in branch["terms"]:
                row = next(rows)
                assert _unescape(row[1]) == f"via {term['from']}"
                assert number(row[2]) == pytest.approx(term["contribution"], rel=1e-5, abs=1e-12)
            row = next(rows)
            assert _unescape(row[1]).startswith("Σ") and number(row[2]) == pytest.approx(branch["total"], rel=1e-5)
    else:
        assert "Branch nodes" not in tables

    gradient = {_unescape(row[0]): number(row[2]) for row in tables["Gradient"][1]}
    assert gradient == pytest.approx(trace["gradient"], rel=1e-5)


def test_the_cs224n_branch_sum_is_2_plus_3_is_5():
    run = run_cli("worksheet", *BRANCHY)
    rows = dict((t[0], t[2]) for t in markdown_tables(sheet_and_key(run.stdout)[1]))["Branch nodes"]
    assert [(_unescape(r[1]), r[2]) for r in rows] == [
        ("via a", "**2**"), ("via b", "**3**"), ("Σ = ∂f/∂y", "**5**")]


def _key_gradients(key: str) -> dict[str, str]:
    """∂f/∂name as the key's tables give it: upstream column, branch sums, the gradient table."""
    found = {}
    for title, headings, rows in markdown_tables(key):
        for row in rows:
            cells = [_unescape(c).strip("*") for c in row]
            if title == "Backward pass" and cells[0]:
                found[cells[0]] = cells[1]
            elif title == "Branch nodes" and cells[1].startswith("Σ"):
                found[cells[0]] = cells[2]
            elif title == "Gradient":
                found[cells[0]] = cells[2]
    return found


def _command(block: str) -> list[str]:
    return shlex.split(block.replace("\\\n", " "))


@pytest.mark.parametrize("program", [*PROGRAMS, ("--file", "examples/apple.grad", "--random-point", "--seed", "7")],
                         ids=lambda program: program[1] if program[0] == "--file" else program[0])
def test_the_printed_check_command_passes_with_the_key_and_fails_with_a_wrong_number(program, monkeypatch):
    monkeypatch.chdir(Path(__file__).parent.parent)
    run = run_cli("worksheet", *program)
    sheet, key = sheet_and_key(run.stdout)
    command = code_block(sheet)
    answers = _key_gradients(key)
    filled = re.sub(r"([^\s,=]+)=___", lambda m: f"{m.group(1)}={answers[m.group(1)]}", command)
    assert "___" not in filled
    args = _command(filled)
    assert args[:2] == ["gradcli", "check"]
    checked = run_cli(*args[1:])
    assert checked.code == ExitStatus.OK, checked.stdout + checked.stderr
    assert _command(code_block(key)) == args  # the key prints the same command, filled in
    expected = args[args.index("--expect-node") + 1]
    name, right = expected.split(",")[0].split("=")
    wrong = [arg.replace(f"{name}={right}", f"{name}={float(right) + 1:g}", 1) for arg in args]
    assert wrong != args
    assert run_cli(*wrong[1:]).code == ExitStatus.CHECK_FAILED


def test_a_forward_sheet_points_to_the_forward_pass_of_trace():
    run = run_cli("worksheet", *CIRCUIT, "--blank", "forward")
    args = _command(code_block(sheet_and_key(run.stdout)[0]))
    assert args[:2] == ["gradcli", "trace"]
    traced = run_cli(*args[1:])
    assert traced.code == 0 and "Forward pass" in traced.stdout
    values = [number(row[3]) for row in markdown_tables(sheet_and_key(run.stdout)[1])[0][2]]
    assert values == [-2, 5, 3, -4, -12]


def test_answers_file_holds_the_key_and_the_sheet_none(tmp_path):
    key_file = tmp_path / "key.md"
    run = run_cli("worksheet", *CIRCUIT, "--answers", str(key_file))
    assert run.code == 0
    assert "\n---\n" not in run.stdout and "**" not in run.stdout and BLANK_MD in run.stdout
    key = key_file.read_text(encoding="utf-8")
    assert BLANK_MD not in key and "**-4**" in key and key.startswith("# Answer key: q = x + y; f = q \\* z")
    unwritable = run_cli("worksheet", *CIRCUIT, "--answers", str(tmp_path / "no" / "such" / "key.md"))
    assert unwritable.code == ExitStatus.BAD_INPUT and "--answers" in unwritable.stderr


# ----- the random point -----


def _short(value: float) -> bool:
    """At most 4 significant digits once rounded to 6, and |value| < 1000: checked with decimal text."""
    if value == 0:
        return True
    digits = f"{abs(value):.5e}".split("e")[0].replace(".", "").rstrip("0")
    return abs(value) < 1000 and len(digits) <= 4


def _point(sheet: str) -> dict[str, float]:
    args = _command(code_block(sheet))
    at = args[args.index("--at") + 1]
    return {name: float(value) for name, value in (binding.split("=") for binding in at.split(","))}


EXAMPLES = seed_examples()
NO_HAND_POINT = {"binary-xent", "softmax-xent"}  # log of a sigmoid or a softmax is never a short number


def test_random_points_are_kink_free_and_short_over_200_seeds():
    found = set()
    for seed in range(200):
        example = EXAMPLES[seed % len(EXAMPLES)]
        run = run_cli("worksheet", example["expression"], "--random-point", "--seed", str(seed))
        if run.code == ExitStatus.BAD_INPUT:
            assert example["name"] in NO_HAND_POINT, run.stderr
            assert "no point fit for hand work" in run.stderr and f"--seed {seed}" in run.stderr
            continue
        assert run.code == 0, run.stderr
        point = _point(sheet_and_key(run.stdout)[0])
        assert set(point) == set(example["at"])
        assert all(value * 4 == int(value * 4) and abs(value) <= 9 for value in point.values())
        traced = run_cli("grad", example["expression"], "--at", at_option(point), "--trace", "--json")
        assert traced.code == 0 and traced.json()["warnings"] == [], traced.stdout  # no kink noted
        document = traced.json()["trace"]
        numbers = [step["value"] for step in document["forward"]]
        numbers += [row["grad"] for row in document["backward"]]
        numbers += [n for row in document["backward"] for e in row["edges"] for n in (e["local"], e["contribution"])]
        assert all(isinstance(n, float | int) and math.isfinite(n) and _short(n) for n in numbers), (seed, point)
        found.add(example["name"])
    assert found == {example["name"] for example in EXAMPLES} - NO_HAND_POINT


def test_a_seed_gives_one_point_and_at_keeps_its_values():
    program = ("sigmoid(w0*x0 + w1*x1 + w2)", "--random-point", "--seed", "11")
    first, again = run_cli("worksheet", *program), run_cli("worksheet", *program)
    assert first.stdout == again.stdout and "--random-point --seed 11" in first.stdout
    fixed = run_cli("worksheet", *program, "--at", "x0=1,x1=-1")
    point = _point(sheet_and_key(fixed.stdout)[0])
    assert (point["x0"], point["x1"]) == (1, -1)


def test_random_point_without_seed_shows_the_seed_it_drew():
    run = run_cli("worksheet", "x*y", "--random-point")
    seed = re.search(r"--random-point --seed (\d+)", run.stdout).group(1)
    assert run_cli("worksheet", "x*y", "--random-point", "--seed", seed).stdout == run.stdout


def test_data_is_drawn_but_has_no_gradient_row():
    run = run_cli("worksheet", "L = (w*x - y)^2", "--data", "y", "--random-point", "--seed", "5")
    assert run.code == 0, run.stderr
    sheet, key = sheet_and_key(run.stdout)
    assert set(_point(sheet)) == {"w", "x", "y"}
    args = _command(code_block(key))
    assert args[args.index("--data") + 1] == "y"
    gradient = dict((t[0], t[2]) for t in markdown_tables(key))["Gradient"]
    assert [row[0] for row in gradient] == ["w", "x"]
    assert not any(arg.startswith("y=") or ",y=" in arg for arg in args[args.index("--expect-node"):])
    assert run_cli(*args[1:]).code == 0


@pytest.mark.parametrize("args, says", [
    (("x/3", "--at", "x=1", "--random-point"), "no point fit for hand work after 1 tries"),
    (("pi*x", "--random-point", "--seed", "1"), "no point fit for hand work"),
    (("sum(z) * x", "--at", "z=[1,2],x=1"), "worksheets are for scalar programs"),
    (("x*y", "--at", "x=1,y=2", "--seed", "3"), "--seed goes with --random-point"),
    (("x*y", "--at", "x=1,y=2", "--json"), "not JSON"),
    (("(x+y)*z", "--at", "x=-2,y=5,z=-4", "--format", "latex", "--lang", "ja"), "pdflatex"),
    (("りんご * 2", "--at", "りんご=1", "--format", "latex"), "pdflatex cannot typeset り"),
    (("2*3",), "nothing to fill in"),
    (("x", "--at", "x=1", "--blank", "forward"), "nothing to fill in"),
], ids=["one-try", "pi", "vector", "seed-alone", "json", "latex-ja", "latex-kana", "constant", "no-forward-step"])
def test_what_a_worksheet_refuses_is_exit_2_with_a_reason(args, says):
    run = run_cli("worksheet", *args)
    assert run.code == ExitStatus.BAD_INPUT
    assert says in " ".join(run.stderr.split()) or JAPANESE.search(run.stderr), run.stderr
    assert run.stdout == ""


def test_latex_refusal_of_japanese_speaks_japanese_and_points_to_md_and_html():
    run = run_cli("worksheet", *CIRCUIT, "--format", "latex", "--lang", "ja")
    assert run.code == ExitStatus.BAD_INPUT and "pdflatex" in run.stderr and "html" in run.stderr
    assert JAPANESE.search(run.stderr)


# ----- Japanese -----


def test_japanese_sheet_headings():
    run = run_cli("worksheet", *BRANCHY, "--lang", "ja")
    assert run.code == 0
    sheet, key = sheet_and_key(run.stdout)
    headings = [line for line in sheet.splitlines() if line.startswith("#")]
    assert all(JAPANESE.search(line) for line in headings), headings
    for title, columns, _ in markdown_tables(sheet):
        assert JAPANESE.search(title) and all(JAPANESE.search(c) for c in columns), (title, columns)
    assert "順伝播" in sheet and "逆伝播" in sheet and "分岐ノード" in sheet and "寄与" in sheet
    assert "解答" in key and "答え合わせ" in sheet


# ----- HTML -----


def test_html_blanks_the_same_cells_as_markdown_and_the_circuit_too():
    markdown = run_cli("worksheet", *BRANCHY, "--blank", "both")
    page = run_cli("worksheet", *BRANCHY, "--blank", "both", "--format", "html")
    assert page.code == 0
    assert "@page" in page.stdout and "A4" in page.stdout and "<script" not in page.stdout
    assert "http" not in page.stdout.replace("http://www.w3.org/2000/svg", "")  # nothing loaded
    parsed = html_tables(page.stdout)
    sheet_md, key_md = (markdown_tables(part) for part in sheet_and_key(markdown.stdout))
    assert len(parsed.tables) == 2 * len(sheet_md)
    for (headings, rows), (_, md_headings, md_rows) in zip(parsed.tables, sheet_md + key_md):
        assert headings == md_headings
        for row, md_row in zip(rows, md_rows):
            for (text, css), md_cell in zip(row, md_row):
                if md_cell == BLANK_MD:
                    assert "blank" in css and text == ""
                else:
                    assert text == _unescape(md_cell).strip("*") and "blank" not in css
    assert _command(parsed.pre[1]) == _command(code_block(sheet_and_key(markdown.stdout)[1]))
    # The circuit: the sheet's computed values, gradients and the branch sum are lines to write on.
    sheet_svg, key_svg = re.findall(r"<svg.*?</svg>", page.stdout, re.DOTALL)
    texts = {css: [t.text for t in ElementTree.fromstring(sheet_svg).iter(f"{SVG}text") if t.get("class") == css]
             for css in ("value", "grad", "sum")}
    assert texts["value"] == ["▸ 1", "▸ 2", "▸ 2", "▸ 0", "▸ ____", "▸ ____", "▸ ____"]
    assert texts["grad"].count("◂ 1") == 1 and all(t.endswith("____") for t in texts["grad"] if t != "◂ 1")
    assert texts["sum"] == ["Σ ∂f/∂y = " + "_" * len("2 + 3 = 5")]
    assert "Σ ∂f/∂y = 2 + 3 = 5" in key_svg and "data-number" not in sheet_svg.split("▸ ____")[1][:200]


@pytest.mark.skipif(not shutil.which("chromium") and not os.environ.get("GRADCLI_NEED_BROWSER"),
                    reason="no Chromium installed (set GRADCLI_NEED_BROWSER to require it)")
def test_the_html_sheet_loads_in_chromium_without_console_errors(tmp_path):
    from browser import Browser, chromium_path

    page = tmp_path / "sheet.html"
    run = run_cli("worksheet", "--file", str(Path(__file__).parent.parent / "examples/apple.grad"),
                  "--random-point", "--seed", "7", "--format", "html", "--lang", "ja")
    page.write_text(run.stdout, encoding="utf-8")
    with Browser(chromium_path()) as browser:
        browser.open(page)
        assert browser.errors() == []
        assert browser.evaluate("document.querySelectorAll('td.blank').length") > 0
        assert browser.evaluate("document.querySelectorAll('svg').length") == 2
        assert browser.evaluate("document.documentElement.lang") == "ja"


# ----- LaTeX -----


def test_latex_escapes_what_tex_would_read_as_commands():
    run = run_cli("worksheet", "a_1 = x^2 + y; f = a_1 * 50", "--at", "x=3,y=1", "--format", "latex")
    assert run.code == 0, run.stderr
    body = run.stdout.split("\\begin{document}")[1]
    for line in body.splitlines():
        bare = re.sub(r"\\[A-Za-z]+\*?|\\[{}$&#%_\\]|\{\}|\$\\[A-Za-z]+\$", "", line)
        assert not re.search(r"[_^~%#]", bare), line  # & separates columns
    assert body.count("{") == body.count("}")
    assert run.stdout.count("\\begin{longtable}") == run.stdout.count("\\end{longtable}") == 6


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex is not installed")
@pytest.mark.parametrize("program", [CIRCUIT, BRANCHY, ("a_1 = x^2 + y; f = a_1 * 50", "--at", "x=3,y=1")])
def test_the_latex_sheet_and_key_compile_with_plain_pdflatex(tmp_path, program):
    key = tmp_path / "key.tex"
    run = run_cli("worksheet", *program, "--blank", "both", "--format", "latex", "--answers", str(key))
    (tmp_path / "sheet.tex").write_text(run.stdout, encoding="utf-8")
    for name in ("sheet.tex", "key.tex"):
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name], cwd=tmp_path,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
        assert (tmp_path / name.replace(".tex", ".pdf")).stat().st_size > 0
