"""Every human-facing text in English and Japanese, gettext style: the two languages of each
message stand together here, and nowhere else.

The English text is the key: `translator("ja")("Forward pass")` gives "順伝播", and a string
without a translation falls back to English. The op table's gate, kink and `show` strings
are translated the same way, so the table stays the one place that states them. Messages
built with values in them (errors, warnings) are matched against their English template
(`{name}` stands for any text) and refilled in the other language: the code that raises them
keeps writing plain English f-strings.
Terms follow the Japanese material our users learn from (ゼロから作るDeep Learning, ch. 5).

The language is chosen once per process (`--lang`, else GRADCLI_LANG, else English) with
`choose`, before any option is converted, so that errors about options speak it too.
"""

from __future__ import annotations

import os
import re
from typing import Callable

LANGUAGES = ("en", "ja")

# Each area of the program keeps its own section; a message belongs to the section of the
# module that writes it.
TRACE = {
    # ----- headings and legends -----
    "Backprop trace of {expression}": "{expression} の誤差逆伝播",
    "at {point}": "評価点 {point}",
    "Forward pass": "順伝播",
    "each node's value, inputs first": "各ノードの値（入力から順に）",
    "Backward pass": "逆伝播",
    "from the output back: contribution = upstream × local":
        "出力から逆向きに: 寄与 = 上流から伝わる勾配 × 局所的な微分",
    "Branch nodes": "分岐ノード",
    "a node used in several places sums the contributions from every path":
        "複数の場所で使われるノードは、各経路から届く寄与を合計する",
    "no branch nodes: every node is used once": "分岐ノードはない（どのノードも一度だけ使われる）",
    "no backward steps: the output is a variable itself, or depends on none":
        "逆伝播の手順はない（出力が変数そのものか、どの変数にも依存しない）",
    "Σ marks a branch node: its contributions are summed under Branch nodes":
        "Σ は分岐ノード: 各経路からの寄与は「分岐ノード」で合計する",
    # ----- column headings -----
    "step": "手順",
    "node": "ノード",
    "operation": "演算",
    "input values": "入力値",
    "value": "値",
    "upstream": "上流から伝わる勾配",
    "Gradient": "勾配",
    "∂{out}/∂variable": "∂{out}/∂変数",
    "variable": "入力変数",
    "constant": "定数",
    # ----- rows and notes -----
    "via {consumer}": "{consumer} 経由",
    "via {consumer}, input {slot}": "{consumer} の入力 {slot} 経由",
    "sum of the {count} contributions below": "下の {count} 個の寄与の合計",
    "⋮ {count} {rows} left out ({first}–{last}); --max-rows sets how many are shown":
        "⋮ {count} {rows}を省略（{first}–{last}）; 表示数は --max-rows で変えられる",
    "forward steps": "件の順伝播の手順",
    "backward rows": "件の逆伝播の行",
    "branch nodes": "件の分岐ノード",
    "contributions": "件の寄与",
    "variables": "個の変数",
    "{op} is not differentiable here; convention: {convention}": "{op} はこの点で微分できない。規約: {convention}",
    "a local partial of {op} is infinite or undefined here (or too large for a double)":
        "{op} の局所的な微分がこの点で無限大か未定義（または倍精度で表せないほど大きい）",
    "the gradient overflows a double: every local partial on the way is finite, but their product is not":
        "勾配が倍精度で表せないほど大きい: 途中の局所的な微分はどれも有限だが、その積はそうでない",
    # ----- the op table's gate patterns (ops.Op.gate) -----
    "add gate: distributes the gradient unchanged to every input": "加算ノード: 上流の勾配をそのまま各入力へ流す",
    "mul gate: swaps the inputs, each gets upstream × the other":
        "乗算ノード: 入力をひっくり返して流す（各入力に 上流 × もう一方の入力）",
    "max gate: routes the gradient to the largest input": "max ノード: 最大の入力にだけ勾配を流す",
    "min gate: routes the gradient to the smallest input": "min ノード: 最小の入力にだけ勾配を流す",
    "relu gate: passes the gradient where its input is positive, blocks it elsewhere":
        "ReLU ノード: 入力が正なら勾配をそのまま流し、それ以外では止める",
    # ----- the op table's kink conventions (ops.Kink.convention) -----
    "the gradient is split evenly among the tied inputs (½ each for two)":
        "同点の入力で勾配を等分する（2 つなら ½ ずつ）",
    "a^b at a = 0, 0 < b < 1: ∂/∂a = +inf (one-sided)": "a = 0、0 < b < 1 での a^b: ∂/∂a = +inf（片側微分）",
    "0^b at b = 0: ∂/∂b = 0 (0^b is 0 for b > 0, but 0^0 = 1)": "b = 0 での 0^b: ∂/∂b = 0（b > 0 では 0^b は 0 だが 0^0 = 1）",
    "sqrt'(0) = +inf (the one-sided derivative)": "sqrt'(0) = +inf（片側微分）",
    "atan2(y, x) jumps by 2π across y = 0 for x < 0: the partials there are those of either side (they agree); "
    "at (0, 0) they are nan":
        "atan2(y, x) は x < 0 で y = 0 をまたぐと 2π 跳ぶ: そこでの偏微分は両側のもの（一致する）; (0, 0) では nan",
    "relu'(0) = 0 (as PyTorch and micrograd)": "relu'(0) = 0（PyTorch や micrograd と同じ）",
    "abs'(0) = 0 (as PyTorch)": "abs'(0) = 0（PyTorch と同じ）",
    # ----- the op table's local-partial formulas that contain words (ops.Op.show) -----
    "1 if a > 0 else 0": "a > 0 なら 1、それ以外は 0",
    "1 if a is the largest else 0": "a が最大なら 1、それ以外は 0",
    "1 if a is the smallest else 0": "a が最小なら 1、それ以外は 0",
    # ----- a max/min tie's share, and the named constants under the forward pass (trace.py) -----
    "{share} ({count} inputs equal the largest)": "{share}（{count} つの入力が最大値に等しい）",
    "{share} ({count} inputs equal the smallest)": "{share}（{count} つの入力が最小値に等しい）",
    "constants: {constants}": "定数: {constants}",
}

CHECK = {  # gradcli check, grad --check, --expect (check.py, render/check.py)
    # ----- title, columns and verdicts -----
    "Nothing to check: the program has no variables.": "検証するものはない: プログラムに変数がない。",
    "Check": "検証",
    "SymPy differentiated the whole expression (evaluated to {digits} digits)":
        "SymPy が式全体を記号微分した（{digits} 桁で評価）",
    "SymPy checked each node's local partials (local mode)": "SymPy が各ノードの局所的な微分を検証した（局所モード）",
    "SymPy unavailable: finite differences only": "SymPy は使えない: 有限差分だけで検証",
    "reverse mode": "逆伝播",
    "finite diff.": "有限差分",
    "Δ SymPy": "Δ SymPy",
    "Δ FD": "Δ 有限差分",
    "verdict": "判定",
    "✗ mismatch": "✗ 不一致",
    "no derivative": "微分不可能",
    "convention": "規約",
    "undefined": "未定義",
    "unchecked": "未検証",
    "the witnesses agree": "各検証方法の値は一致する",
    "a witness disagrees with reverse mode": "逆伝播と一致しない検証方法がある",
    "not differentiable at this point": "この点では微分できない",
    "f is differentiable here, but reverse mode applies a kink's convention":
        "f はこの点で微分できるが、逆伝播は折れ点の規約を使う",
    "the derivative is undefined here": "この点では微分が定義されない",
    "no witness applies here": "この点で使える検証方法がない",
    "one-sided derivatives: left {left}, right {right}": "片側微分: 左 {left}、右 {right}",
    "{infinity} (unbounded)": "{infinity}（発散）",
    "SymPy's derivative of each op confirms {confirmed} of {checked} local partials":
        "SymPy による各演算の微分が、局所的な微分 {checked} 個のうち {confirmed} 個を確認した",
    # ----- conclusions -----
    "✗ a witness disagrees with reverse mode": "✗ 逆伝播と一致しない検証方法がある",
    "✗ some of your numbers are wrong (the witnesses agree with each other)":
        "✗ あなたの値に誤りがある（各検証方法の値は互いに一致する）",
    "✗ some of your numbers are wrong (no witness contradicts reverse mode)":
        "✗ あなたの値に誤りがある（逆伝播と矛盾する検証方法はない）",
    "✓ the witnesses agree": "✓ 各検証方法の値は一致する",
    "✓ the witnesses agree and so do your numbers": "✓ 各検証方法の値は一致し、あなたの値も正しい",
    "✓ no witness contradicts reverse mode; for {names} see above":
        "✓ 逆伝播と矛盾する検証方法はない。{names} については上の説明を参照",
    "✓ no witness contradicts reverse mode, and your numbers match; for {names} see above":
        "✓ 逆伝播と矛盾する検証方法はなく、あなたの値も正しい。{names} については上の説明を参照",
    # ----- local partials and the user's numbers -----
    "Local partials that SymPy does not confirm": "SymPy が確認しない局所的な微分",
    "partial": "偏微分",
    "op table": "演算表",
    "reverse mode failed its check, so the right column is in doubt":
        "逆伝播が検証に通らなかったので、正しい値の列は疑わしい",
    "Your numbers": "あなたの値",
    "yours": "あなたの値",
    "right": "正しい値",
    "✗ wrong": "✗ 誤り",
    "First wrong step": "最初の誤った手順",
    " (in backward order): ": "（逆伝播の順で）: ",
    " is {right}, not {yours}": " は {yours} ではなく {right}",
    "the output's gradient with respect to itself is 1 by definition": "出力の自分自身についての勾配は定義により 1",
    "via {step}: upstream {upstream} × local {local} → {contribution}":
        "{step} 経由: 上流から伝わる勾配 {upstream} × 局所的な微分 {local} → {contribution}",
    "{name} is a branch node: the sum of the contributions is {total}": "{name} は分岐ノード: 寄与の合計は {total}",
    # ----- details and notes (check.py, witness.py) -----
    "reverse mode cannot apply the chain rule here: 0 × ∞ on the edge from {step} to {input} "
    "(upstream {upstream}, local {local})":
        "逆伝播はこの点で連鎖律を適用できない: {step} から {input} への辺で 0 × ∞"
        "（上流から伝わる勾配 {upstream}、局所的な微分 {local}）",
    "reverse mode meets an infinite local partial on the edge from {step} to {input}: {local}":
        "逆伝播は {step} から {input} への辺で無限大の局所的な微分に出会う: {local}",
    "reverse mode cannot apply the chain rule here: ∞ − ∞ where the contributions to {gradient} are summed":
        "逆伝播はこの点で連鎖律を適用できない: {gradient} への寄与を合計すると ∞ − ∞",
    "{detail}; SymPy's derivative is {value}": "{detail}; SymPy による微分は {value}",
    "reverse mode gives no finite number": "逆伝播は有限の値を与えない",
    "f is not smooth or not defined within 2h of the point, so finite differences do not apply":
        "f は点から 2h 以内で滑らかでないか定義されないので、有限差分は使えない",
    "finite differences not used: f is not smooth or not defined within 2h of the point":
        "有限差分は使わない: f は点から 2h 以内で滑らかでないか定義されない",
    "symbolic check unavailable: {reason}; only finite differences were compared":
        "記号微分 (SymPy) による検証はできない: {reason}; 有限差分だけを比べた",
    "symbolic check unavailable for the whole expression: {reason}; SymPy checked every node's local partials "
    "instead, and the gradient column chains them":
        "式全体の記号微分 (SymPy) による検証はできない: {reason}; 代わりに SymPy が各ノードの局所的な微分を検証し、"
        "SymPy の列はそれを連鎖律でつないだもの",
    "SymPy is not installed": "SymPy がインストールされていない",
    "could not start the SymPy process ({error})": "SymPy のプロセスを起動できなかった（{error}）",
    "timed out after {seconds} s": "{seconds} 秒で時間切れ",
    "the SymPy process ended unexpectedly": "SymPy のプロセスが予期せず終了した",
    "no result": "結果がない",
    "the program has {count} operations (the whole-expression limit is {limit})":
        "プログラムの演算は {count} 個（式全体の上限は {limit}）",
    "the program is nested {depth} deep (the whole-expression limit is {limit})":
        "プログラムの入れ子は {depth} 段（式全体の上限は {limit}）",
    "the expression is nested too deeply for SymPy (recursion limit)": "式の入れ子が SymPy には深すぎる（再帰の上限）",
    "SymPy ran out of memory": "SymPy のメモリが足りなくなった",
    "SymPy failed ({what})": "SymPy が失敗した（{what}）",
    # ----- vectors and matrices, entry by entry (array_check.py, render/check.py) -----
    "SymPy differentiated the whole expression, one symbol per entry (evaluated to {digits} digits)":
        "SymPy が式全体を要素ごとに一つの記号で展開して記号微分した（{digits} 桁で評価）",
    "entries": "要素",
    "{name} along a random direction": "{name}（ランダムな方向）",
    " ({count} of {checked} entries)": "（検証した {checked} 要素のうち {count} 要素）",
    "each row: the entry farthest from its witnesses; entries: checked / in all":
        "各行は検証方法の値から最も離れた要素; 要素: 検証した数 / 全体",
    "SymPy not run: {count} scalar entries > limit {limit}; finite differences alone decide":
        "SymPy は実行しない: スカラーの要素が {count} 個で上限 {limit} を超える; 有限差分だけで判定する",
    "SymPy not run: {reason}; finite differences alone decide": "SymPy は実行しない: {reason}; 有限差分だけで判定する",
    "finite differences checked {checked} of {total} entries of {name} (its corners, its largest partials "
    "and a seeded random sample) and one random direction through all of them":
        "有限差分は {name} の {total} 要素のうち {checked} 要素（四隅、偏微分の絶対値が最大の要素、シード固定の"
        "無作為標本）と、全要素を通るランダムな方向一つで検証した",
    "finite differences checked {checked} of {total} entries of {name} (its corners, its largest partials "
    "and a seeded random sample)":
        "有限差分は {name} の {total} 要素のうち {checked} 要素（四隅、偏微分の絶対値が最大の要素、シード固定の"
        "無作為標本）で検証した",
    "cannot compare an expected partial with ∂{output}/∂{name}: {name} is {shape}; expect the partials "
    "of scalars (the witnesses check every entry of a vector or matrix)":
        "期待する偏微分を ∂{output}/∂{name} と比べられない: {name} は{shape}; 期待値はスカラーの偏微分に限る"
        "（ベクトルや行列の勾配は各検証方法が要素ごとに検証する）",
    "cannot compare an expected partial with ∂{output}/∂{name}: on vectors and matrices only variables "
    "and named steps keep their partials (name the step: q = ...)":
        "期待する偏微分を ∂{output}/∂{name} と比べられない: ベクトルや行列では、偏微分を保持するのは変数と"
        "名前のある手順だけ（手順に名前を付ける: q = ...）",
}

DIFF = {  # gradcli diff (diff.py, render/diff.py)
    "formula": "式",
    "{step}(x) is the Heaviside step function: 0 for x < 0, 1 for x > 0, ½ at x = 0 (SymPy's value)":
        "{step}(x) はヘヴィサイドの階段関数: x < 0 で 0、x > 0 で 1、x = 0 で ½（SymPy の値）",
    "∂{out}/∂{name}: {head}; SymPy's formula gives {sympy}, while `gradcli grad` gives {ours} (convention: {convention})":
        "∂{out}/∂{name}: {head}; SymPy の式は {sympy} を与えるが、`gradcli grad` は {ours} を与える（規約: {convention}）",
    "∂{out}/∂{name}: {head}; SymPy's formula and `gradcli grad` both give {ours} here (convention: {convention})":
        "∂{out}/∂{name}: {head}; この点では SymPy の式も `gradcli grad` も {ours} を与える（規約: {convention}）",
    "{op} is not differentiable at {node} = {formula}": "{op} は {node} = {formula} で微分できない",
    "{where}, so {out} may not be differentiable in {name} here":
        "{where}。そのため {out} はこの点で {name} について微分できないかもしれない",
    "{out} is not differentiable in {name} here: {where}": "{out} はこの点で {name} について微分できない: {where}",
    "{where} (though {out} itself looks differentiable in {name} here)":
        "{where}（ただし {out} 自体はこの点で {name} について微分できるように見える）",
    "no finite real value": "有限の実数値なし",
    "shown as SymPy derived it, not simplified: simplification {failure}":
        "SymPy が導いたままの式（簡約していない）: 簡約は {failure}",
    "too big for a symbolic derivative: {guard}; `gradcli grad` gives the numbers":
        "記号微分には大きすぎる: {guard}; 数値は `gradcli grad` で求められる",
    "SymPy did not differentiate with respect to {names}: {failure}": "SymPy は {names} についての微分を終えなかった: {failure}",
}

GRAPH = {  # gradcli graph (render/graph.py)
    "(see above)": "（上を参照）",
    "(inputs below)": "（入力は下に続く）",
    "(continued)": "（続き）",
    "contribution {via} = {value}": "{via}の寄与 = {value}",  # {via}: the trace's `via a`
    "(the sum of {count} contributions)": "（{count} 個の寄与の合計）",
    "Σ: a node used more than once. Each use shows the contribution along its edge; "
    "∂{out}/∂node, their sum, stands at its first use.":
        # no spaces: a terminal folds Japanese between any two characters, and a space would leave a short line
        "Σ：複数の場所で使われるノード（分岐ノード）。使われる所ごとにその辺を流れる寄与を示し、"
        "その合計∂{out}/∂ノードは最初に現れる所に示す。",
    "Σ: a node used more than once (a branch node); with --at, ∂{out}/∂node is the sum of what flows back along "
    "each use.":
        "Σ：複数の場所で使われるノード（分岐ノード）。値（--at）を与えると、∂{out}/∂ノードは使われる所ごとに"
        "逆伝播してくる勾配の合計になる。",
    "Σ: a node used more than once; ∂{out}/∂node, the sum of what flows back along each use, stands at its first "
    "use.":
        "Σ：複数の場所で使われるノード（分岐ノード）。使われる所ごとに逆伝播してくる勾配の合計∂{out}/∂ノードを"
        "最初に現れる所に示す。",
    "shape {shape}": "形 {shape}",  # a node's shape in a graph: `shape 2×3`
    "(the tree is cut at depth {depth}; --format dot or mermaid shows all {count} nodes)":
        "（木は深さ {depth} で打ち切り。--format dot か mermaid なら全 {count} 個のノードを示す）",
    "gradcli graph of: {program}": "gradcli の計算グラフ: {program}",
    "--json prints the graph as one JSON object; it goes without --format {format}":
        "--json はグラフを 1 つの JSON オブジェクトとして出力する。--format {format} とは併用できない",
    # ----- the circuit as SVG and the step-through page (render/svg.py, render/html.py) -----
    "{value} value, above the wire (green)    {gradient} gradient flowing back, below it (red)":
        "{value} 値（線の上、緑）    {gradient} 逆伝播で流れる勾配（線の下、赤）",
    "the picture would have {count} pieces (nodes and pieces of wires); it draws at most {limit}: "
    "--format dot, mermaid or the tree show every node":
        "図は {count} 個の部品（ノードと線の断片）になる。描けるのは {limit} 個まで: "
        "--format dot、mermaid か木の表示ならすべてのノードを示せる",
    "→ or Next: the forward pass, node by node; then the backward pass":
        "→ か「次へ」: 順伝播をノードごとに、続いて逆伝播をたどる",
    "upstream × local = contribution: {product}": "上流から伝わる勾配 × 局所的な微分 = 寄与: {product}",
    "step {index} of {count}": "{count} 手順中 {index}",
    "steps of the trace": "トレースの手順",
    "Start": "最初",
    "Back": "戻る",
    "Next": "次へ",
    "End": "最後",
    "first step (Home)": "最初の手順（Home）",
    "previous step (left arrow)": "前の手順（←）",
    "next step (right arrow)": "次の手順（→）",
    "last step (End)": "最後の手順（End）",
    "The trace": "トレース",
    "the circuit picture (--format svg or html, trace --html) draws programs of numbers; "
    "vectors and matrices are not drawn yet":
        "回路の図（--format svg か html、trace --html）は数のプログラムだけを描く。ベクトルと行列はまだ描けない",
}

BATCH = {  # grad --points (gradcli/batch/, render/progress.py); the output's column names are data: not here
    # ----- the summary on stderr and the progress bar -----
    "{failed} of {rows} points in {source} have no result ({kinds})":
        "{source} の {rows} 点のうち {failed} 点は結果なし（{kinds}）",
    "{count} with unusable input": "使えない入力 {count} 点",
    "{count} with a math error": "計算エラー {count} 点",
    ", ": "、",
    "… and {count} more (see the error column)": "… ほか {count} 点（error 列を参照）",
    "{noted} of {rows} points in {source} have notes (see the notes column)":
        "{source} の {rows} 点のうち {noted} 点に注記あり（notes 列を参照）",
    "line {line} and {count} more": "{line} 行目ほか {count} 点",
    "… and {count} other notes (see the notes column)": "… ほか {count} 種類の注記（notes 列を参照）",
    "{task.fields[rows]:,} rows": "{task.fields[rows]:,} 行",
    "standard input": "標準入力",
    # ----- warnings and errors about the points file -----
    "column {column} is ignored: {option} gives {name} for every row":  # {option}: --at, --at-file or --data
        "列 {column} は無視する: {option} が全行の {name} を与えている",
    "column {column} is not a variable of the program; it is ignored": "列 {column} はプログラムの変数ではないので無視する",
    "key {key} is ignored: {option} gives {name} for every row": "キー {key} は無視する: {option} が全行の {name} を与えている",
    "key {key} is ignored: it is not a variable of the program": "キー {key} は無視する: プログラムの変数ではない",
    "{source} is empty: expected a header row naming the variables": "{source} が空: 変数名を並べた見出し行が必要",
    "{source}, line {line}: {problem}": "{source} の {line} 行目: {problem}",
    "the header of {source} names {names} more than once": "{source} の見出し行に {names} が 2 回以上ある",
    "{source} has no column for {names} (its columns: {columns}); add the column or fix the value with --at "
    "{name}=VALUE":
        "{source} に {names} の列がない（列: {columns}）。列を加えるか、--at {name}=値 で全行の値を与える",
    "the output would have two columns named {names}: rename that variable":
        "出力に {names} という列が 2 つできてしまう: その変数の名前を変える",
    "cannot read {path}: {reason}": "{path} を読めない: {reason}",
    # ----- a row's problem, as the summary shows it (the error column keeps the English) -----
    "the row has {count} field; the header has {width}": "この行のフィールドは {count} 個、見出し行は {width} 個",
    "the row has {count} fields; the header has {width}": "この行のフィールドは {count} 個、見出し行は {width} 個",
    "not valid CSV ({reason})": "CSV として読めない（{reason}）",
    "a carriage return inside an unquoted field": "引用符で囲まれていないフィールドの中に復帰文字（CR）がある",
    "not valid JSON ({reason})": "JSON として読めない（{reason}）",
    "nested too deeply": "入れ子が深すぎる",
    'a line must be a JSON object such as {"x": 1.5}': '各行は {"x": 1.5} のような JSON オブジェクトでなければならない',
    "the keys {first} and {second} both name {name}": "キー {first} と {second} がどちらも {name} を指す",
}

SHAPES = {  # values with shapes: shape errors, array values, the array path (shapes.py, values.py, array_engine.py)
    # ----- shapes in words (shapes.shape_words) and the shape rules' errors (shapes.py) -----
    "a scalar": "スカラー",
    "a vector of {n}": "長さ {n} のベクトル",
    "a {shape} matrix": "{shape} 行列",
    "an array of shape {shape}": "形が {shape} の配列",
    "{mismatch} (NumPy lines shapes up from the last axis)": "{mismatch}（NumPy は形を最後の軸からそろえる）",
    "cannot add {a} and {b}: sizes {m} and {n} differ": "{a} と {b} は足せない: 大きさ {m} と {n} が合わない",
    "cannot subtract {b} from {a}: sizes {m} and {n} differ": "{a} から {b} は引けない: 大きさ {m} と {n} が合わない",
    "cannot multiply {a} and {b} elementwise: sizes {m} and {n} differ":
        "{a} と {b} は要素ごとに掛けられない: 大きさ {m} と {n} が合わない",
    "cannot divide {a} by {b} elementwise: sizes {m} and {n} differ":
        "{a} を {b} で要素ごとに割れない: 大きさ {m} と {n} が合わない",
    "cannot raise {a} to the power {b} elementwise: sizes {m} and {n} differ":
        "{a} の {b} 乗は要素ごとには計算できない: 大きさ {m} と {n} が合わない",
    "cannot combine {a} and {b} in {op}: sizes {m} and {n} differ":
        "{op} で {a} と {b} を組み合わせられない: 大きさ {m} と {n} が合わない",
    "cannot multiply {a} by {b}: inner sizes {m} and {n} differ":
        "{a} と {b} は掛けられない: 内側の大きさ {m} と {n} が合わない",
    "cannot multiply {a} by {b} with @: @ takes vectors and matrices; for a scalar factor, use *":
        "{a} と {b} は @ で掛けられない: @ はベクトルと行列の積。スカラー倍には * を使う",
    "cannot multiply {a} by {b} with @: @ takes vectors and matrices, not arrays of more than 2 axes":
        "{a} と {b} は @ で掛けられない: @ はベクトルと行列の積で、軸が 3 つ以上の配列には使えない",
    "{op}(..., axis={axis}): a scalar has no axes": "{op}(..., axis={axis}): スカラーには軸がない",
    "{op}(..., axis={axis}): {shape} has axes 0 to {last} (or -1 to -{ndim} from the end)":
        "{op}(..., axis={axis}): {shape} の軸は 0 から {last} まで（末尾からなら -1 から -{ndim} まで）",
    "{op} needs a vector or a matrix, not a scalar (it works along an axis)":
        "{op} にはスカラーではなくベクトルか行列を与える（軸に沿って計算するため）",
    "{op}() of one argument reduces a vector or a matrix, but its argument is a scalar; to compare numbers, "
    "give two or more arguments: {op}(a, b)":
        "引数 1 つの {op}() はベクトルや行列の要素をまとめるものだが、引数がスカラー。数どうしを比べるなら引数を "
        "2 つ以上与える: {op}(a, b)",
    "outer takes two vectors, not {a} and {b}": "outer には {a} と {b} ではなく 2 つのベクトルを与える",
    "element {k} of the list is {b}, but element 0 is {a}: a list's elements must all have the same shape":
        "リストの要素 {k} は {b} だが、要素 0 は {a}: リストの要素はすべて同じ形でなければならない",
    "{element}: a scalar has no elements to index": "{element}: スカラーには添字で取り出す要素がない",
    "{element} has {count} indices, but {shape} has {axes}": "{element} の添字は {count} 個だが、{shape} の軸は {axes}",
    "1 axis": "1 つ",
    "{n} axes": "{n} つ",
    "{element} is outside {shape} (indices are 0-based: 0 to {last})":
        "{element} は {shape} の範囲外（添字は 0 始まりで 0 から {last} まで）",
    "{element} is outside {shape} (from the end, indices are -1 to -{size})":
        "{element} は {shape} の範囲外（末尾からの添字は -1 から -{size} まで）",
    "{element} is outside {shape} (indices on axis {axis} are 0-based: 0 to {last})":
        "{element} は {shape} の範囲外（軸 {axis} の添字は 0 始まりで 0 から {last} まで）",
    "{element} is outside {shape} (from the end, indices on axis {axis} are -1 to -{size})":
        "{element} は {shape} の範囲外（軸 {axis} の末尾からの添字は -1 から -{size} まで）",
    # ----- the array path (array_engine.py, batch/run.py) -----
    "grad needs a scalar output, but {name} is {shape}: use 'gradcli jacobian', or reduce it with sum(...) or "
    "mean(...)":
        "grad の出力はスカラーでなければならないが、{name} は {shape}: 'gradcli jacobian' を使うか、sum(...) や "
        "mean(...) でスカラーにする",
    "{error}, at {element}": "{error}（{element} で）",
    "{op} is not differentiable here; convention: {convention} (at {elements})":
        "{op} はこの点で微分できない。規約: {convention}（{elements} で）",
    "{elements} and {count} more": "{elements} ほか {count} 個",
    # ----- the array ops' kink conventions (ops.Kink.convention) -----
    "the gradient is split evenly among the tied entries (½ each for two)": "同点の要素で勾配を等分する（2 つなら ½ ずつ）",
    "norm'(0) = 0: the gradient at the zero vector is 0 (as PyTorch)": "norm'(0) = 0: 零ベクトルでの勾配は 0 とする（PyTorch と同じ）",
    "--points runs scalar programs row by row; vector and matrix values are not supported with --points yet":
        "--points はスカラーのプログラムを行ごとに計算する。ベクトルや行列の値にはまだ対応していない",
    # ----- the VJPs of array ops in matrix form, as a trace shows them (ops.py) -----
    "δ, broadcast to a's shape": "δ を a の形に複製",
    "δ/n, broadcast to a's shape": "δ/n を a の形に複製",
    "δ to the largest entries, split among ties": "δ を最大の要素へ（同点なら等分）",
    "δ to the smallest entries, split among ties": "δ を最小の要素へ（同点なら等分）",
    "δ at the index, 0 elsewhere": "添字の位置に δ、ほかは 0",
    "row i of δ": "δ の i 行目",
}

PARSE = {  # the parser's errors and notes (parse.py); {name} matches any text
    # ----- the program as a whole -----
    "the program has {chars} characters; the limit is {limit}": "プログラムが {chars} 文字ある。上限は {limit} 文字",
    "the program is empty: write an expression such as (x+y)*z": "プログラムが空: (x+y)*z のような式を書く",
    "the program has more than {nodes} nodes, the limit": "プログラムのノードが上限の {nodes} 個を超えている",
    "the expression nests more than {depth} levels deep, the limit": "式の入れ子が上限の {depth} 段を超えている",
    "this expression's value is never used: name it (q = ...) or make it the last statement":
        "この式の値はどこにも使われない: 名前を付ける（q = ...）か、最後の文にする",
    # ----- statements and names -----
    "nothing is assigned to {name}": "{name} に代入するものがない",
    "only a name can be assigned to": "代入できるのは名前だけ",
    "'=' can only follow a name at the start of a statement": "'=' を書けるのは文の先頭の名前の後だけ",
    "{name} is a function name and cannot be assigned": "{name} は関数名なので代入できない",
    "{name} is assigned twice (first on line {line})": "{name} が二度代入されている（最初は {line} 行目）",
    "{name} is already used as a variable (line {line}, column {column}); assign it before its first use":
        "{name} はすでに変数として使われている（{line} 行目、{column} 列目）。最初に使う前に代入する",
    "{name} is used in its own definition: it has no value yet (the program is not a loop); give the new value "
    "another name ({name}1 = ...)":
        "{name} が自身の定義の中で使われているが、まだ値がない（プログラムはループではない）。新しい値には別の名前を"
        "付ける（{name}1 = ...）",
    "{name} = … on line {line} hides the constant {name} ({value}) from that line on":
        "{line} 行目の {name} = … から先では、{name} は定数（{value}）ではなく代入された値を指す",
    # ----- functions -----
    "{name} is a function: call it as {name}(...)": "{name} は関数: {name}(...) の形で呼び出す",
    "{name} is not a function; to multiply write {name}*(...)": "{name} は関数ではない。掛け算なら {name}*(...) と書く",
    "unknown function {name}(); did you mean {close}?": "未知の関数 {name}()。{close} のことか？",
    "unknown function {name}()": "未知の関数 {name}()",
    "{name}() takes {arity}, none given": "{name}() の引数は {arity} だが、一つも与えられていない",
    "{name}() takes {arity}, {count} given": "{name}() の引数は {arity} だが、{count} 個与えられた",
    "1 argument": "1 個",
    "2 arguments": "2 個",
    "1 or 2 arguments": "1 個か 2 個",
    "2 or more arguments": "2 個以上",
    "1 argument, or 2 or more": "1 個か 2 個以上",
    # ----- numbers -----
    "malformed number: digits may not be grouped with '_'": "数の形が正しくない: 桁を '_' で区切ることはできない",
    "the number {number} is too large for a double": "数 {number} は倍精度で表せないほど大きい",
    "{literal} is read as 0*{name}: gradcli has no hexadecimal, binary or octal numbers; write {value}":
        "{literal} は 0*{name} と読まれる: gradcli には 16 進数・2 進数・8 進数がない。{value} と書く",
    "{literal} is read as 0*{name}: gradcli has no hexadecimal, binary or octal numbers; write it in decimal":
        "{literal} は 0*{name} と読まれる: gradcli には 16 進数・2 進数・8 進数がない。10 進数で書く",
    # ----- operators and parentheses -----
    "{operator} needs an operand after it": "{operator} の後にオペランドが必要",
    "the expression ends too early": "式が途中で終わっている",
    "expected a number, a name or '(' but found {token}": "数、名前、'(' のどれかが来るはずのところに {token} がある",
    "missing operator before {token} (write * to multiply)": "{token} の前に演算子がない（掛け算は * と書く）",
    "unexpected character {character}": "予期しない文字 {character}",
    "unexpected {token}": "予期しない {token}",
    "empty parentheses": "空の括弧",
    "unbalanced ')': there is no '(' to close": "')' が余分: 閉じる '(' がない",
    "unclosed '(': no matching ')'": "'(' が閉じていない: 対応する ')' がない",
    "unclosed call of {function}(: no matching ')'": "{function}( の呼び出しが閉じていない: 対応する ')' がない",
    "',' is only allowed between a function's arguments or a list's elements":
        "',' を書けるのは関数の引数の間かリストの要素の間だけ",
    # ----- vectors and matrices: lists, indexes, .T, keywords -----
    "an empty list [] has no value": "空のリスト [] には値がない",
    "unbalanced ']': there is no '[' to close": "']' が余分: 閉じる '[' がない",
    "unclosed '[': no matching ']'": "'[' が閉じていない: 対応する ']' がない",
    "')' cannot close '[': write ']'": "')' では '[' を閉じられない: ']' と書く",
    "']' cannot close '{group}': write ')'": "']' では '{group}' を閉じられない: ')' と書く",
    "an index is an integer such as z[0] (0-based)": "添字は z[0] のような整数（0 始まり）",
    "slices such as z[1:] are not supported; an index is an integer such as z[0] (0-based)":
        "z[1:] のようなスライスには対応していない。添字は z[0] のような整数（0 始まり）",
    "a number cannot be indexed": "数には添字を付けられない",
    "a number has no transpose": "数には転置がない",
    "'.' can only be followed by T (transpose)": "'.' の後に書けるのは T（転置）だけ",
    "{name}() takes no keyword arguments": "{name}() はキーワード引数を取らない",
    "{name}() takes the keyword {known}, not {keyword}": "{name}() のキーワードは {keyword} ではなく {known}",
    "{name}() of {count} arguments takes no keyword {keyword}":
        "引数が {count} 個の {name}() はキーワード {keyword} を取らない",
    "{keyword}= is given twice": "{keyword}= が二度与えられている",
    "{keyword}= takes an integer such as 0 or -1": "{keyword}= には 0 や -1 のような整数を書く",
    "an argument follows {keyword}=: keywords come last, as in {name}(X, {keyword}=0)":
        "{keyword}= の後に引数がある: キーワードは {name}(X, {keyword}=0) のように最後に書く",
}

GRADIENT = {  # grad's table, eval, the value line (render/text.py; its headings are the trace's)
    "no variables: the value is a constant, and there is no gradient": "変数がない: 値は定数なので勾配はない",
    # ----- the table of a program on vectors and matrices (render/arrays.py, formatting.py) -----
    "shape": "形",
    "scalar": "スカラー",
    "↓ below": "↓ 下に",
    "∂{out}/∂{name}  ({shape}, {name}'s shape)": "∂{out}/∂{name}  （{shape}、{name} と同じ形）",
    "vector of {n}": "長さ {n} のベクトル",
    "{shape} matrix": "{shape} 行列",
    "{shape} array": "形が {shape} の配列",
    "{kind}: {first} = {a} … {last} = {b}, norm {norm}": "{kind}: {first} = {a} … {last} = {b}、ノルム {norm}",
    # ----- vector and matrix values: --at 'z=[1,2,3]', the API (values.py, cli/options.py) -----
    "--at: {message}": "--at: {message}",
    "--data: {message}": "--data: {message}",
    "{element} has {n} elements, but {first} has {m}: {rule}": "{element} の要素は {n} 個だが、{first} は {m} 個: {rule}",
    "{element} has {n} element, but {first} has {m}: {rule}": "{element} の要素は {n} 個だが、{first} は {m} 個: {rule}",
    "a matrix's rows must all have the same length": "行列の行はすべて同じ長さでなければならない",
    "the lists at each depth must all have the same length": "同じ深さのリストはすべて同じ長さでなければならない",
    "{element} is a number where a list was expected ({first} is a list of {n})":
        "{element} はリストがあるべき位置にある数（{first} は長さ {n} のリスト）",
    "{element} is a list where a number was expected": "{element} は数があるべき位置にあるリスト",
    "{element} = []: an empty list has no value": "{element} = []: 空のリストには値がない",
    "{element} is {value}, not a number": "{element} は {value} で、数ではない",
    "{element} must be finite, not {value}": "{element} は有限でなければならない（{value} ではなく）",
    "{element} is too large for a double": "{element} が倍精度で表せないほど大きい",
    "{element} has no value (two commas in a row?)": "{element} に値がない（コンマが二つ続いている？）",
    "{element} = {text}: {reason}": "{element} = {text}: {reason}",
    "{name} has more than {n} levels of nested lists": "{name} のリストの入れ子が {n} 段を超えている",
    "{name} holds booleans, not numbers": "{name} の要素は真偽値で、数ではない",
    "{name} holds complex numbers; gradcli works with real numbers": "{name} の要素は複素数。gradcli が扱うのは実数",
    "{name} holds values of type {dtype}, not numbers": "{name} の要素は {dtype} 型で、数ではない",
    "{name} has shape {shape}: an empty array has no value": "{name} の形は {shape}: 空の配列には値がない",
    "{name} has {n} dimensions; the limit is {limit}": "{name} の次元は {n}。上限は {limit}",
    "{name}={text}: a vector starts with '['": "{name}={text}: ベクトルは '[' で始まる",
    "{name}={text}: a '[' is not closed by ']'": "{name}={text}: '[' が ']' で閉じていない",
    "{name}={text}: text after the closing ']': {rest}": "{name}={text}: 閉じる ']' の後に文字がある: {rest}",
    "{name}={text}: '[' where ',' or ']' was expected": "{name}={text}: ',' か ']' があるべき位置に '[' がある",
    "{name}={text}: {char} after ']' where ',' or ']' was expected":
        "{name}={text}: ']' の後の ',' か ']' があるべき位置に {char} がある",
    # ----- the point from a file: --at-file JSON or .npz (cli/inputs.py, values.py) -----
    "the program and --at-file cannot both come from standard input":
        "プログラムと --at-file の両方を標準入力から読むことはできない",
    "--at-file and --points cannot both come from standard input":
        "--at-file と --points の両方を標準入力から読むことはできない",
    "--at-file {file}: {message}": "--at-file {file}: {message}",
    "cannot read it: {reason}": "読めない: {reason}",
    "a .npy file holds one array without its name; save the point with numpy.savez(file, W=W, x=x)":
        ".npy ファイルは名前のない配列を一つ持つだけ。点は numpy.savez(file, W=W, x=x) で保存する",
    "not a .npz file: it does not start as a zip archive (numpy.savez writes one)":
        ".npz ファイルではない: zip アーカイブの先頭になっていない（numpy.savez は zip を書く）",
    "more than {size} of .npz, half the available memory": ".npz が {size}（使えるメモリの半分）を超えている",
    "{size} of JSON, over the limit of {limit}; save large arrays as .npz (numpy.savez)":
        "JSON が {size} で、上限 {limit} を超えている。大きな配列は .npz で保存する（numpy.savez）",
    "more than {size} of JSON; save large arrays as .npz (numpy.savez)":
        "JSON が {size} を超えている。大きな配列は .npz で保存する（numpy.savez）",
    "not valid JSON: {reason} (line {line}, column {column})": "JSON として正しくない: {reason}（{line} 行目、{column} 列目）",
    "not valid JSON: it is not UTF-8 text": "JSON として正しくない: UTF-8 のテキストではない",
    "not valid JSON for a point: lists nested too deeply": "点の JSON として正しくない: リストの入れ子が深すぎる",
    "the file holds {kind}; a point is one JSON object of names and values":
        "ファイルの中身が{kind}。点は名前と値からなる JSON オブジェクト一つで与える",
    "a list": "リスト",
    "a single value": "単独の値",
    "{name} is not a variable name": "{name} は変数名ではない",
    "not a valid .npz file ({reason})": "正しい .npz ファイルではない（{reason}）",
    "{name} is not a NumPy array (numpy.savez writes each array as NAME.npy)":
        "{name} は NumPy の配列ではない（numpy.savez は各配列を NAME.npy として書く）",
    "{name} holds Python objects, which can only be read with pickle; save it as numbers "
    "(numpy.asarray({name}, dtype=float)) with allow_pickle=False":
        "{name} の要素は Python オブジェクトで、pickle でしか読めない。数として保存する"
        "（numpy.asarray({name}, dtype=float)、allow_pickle=False）",
    "{name} holds text, not numbers": "{name} の要素は文字列で、数ではない",
    "{name} has shape {shape}: as float64 the arrays need {size}, more than half the available memory ({limit})":
        "{name} の形は {shape}: float64 では配列に {size} が必要で、使えるメモリの半分（{limit}）を超える",
    "{name} is in .npy format version {version}, which gradcli does not read":
        "{name} は .npy 形式のバージョン {version} で、gradcli は読めない",
    "{name} is not a valid .npy array ({reason})": "{name} は正しい .npy の配列ではない（{reason}）",
    # ----- grad --save and --full (cli/commands.py, cli/output.py) -----
    "--save writes one point's gradient (--at), not a --points file":
        "--save が書くのは一点（--at）の勾配で、--points ファイルには使えない",
    "--save {file}: cannot write it: {reason}": "--save {file}: 書き込めない: {reason}",
    # ----- what works on scalars only, until the next stages (cli/commands.py, cli/options.py) -----
    "{option} {binding}: an expected partial is a number (vectors and matrices are not supported here yet)":
        "{option} {binding}: 期待値は数で与える（ベクトルや行列にはまだ対応していない）",
    "{what} does not work on vectors and matrices yet; plain `gradcli grad` gives their value and gradient":
        "{what} はまだベクトルや行列に対応していない。値と勾配はオプションなしの `gradcli grad` で求められる",
}

JACOBIAN = {  # gradcli jacobian (jacobian.py, render/jacobian.py)
    # ----- the view: a block per variable (render/jacobian.py) -----
    "∂{out}/∂{name}  ({rows} × {columns}: output {out_shape}, {name} {shape})":
        "∂{out}/∂{name} のヤコビ行列  （{rows} × {columns}: 出力 {out_shape}、{name} {shape}）",
    "∂{out}/∂{names}  ({rows} × {columns}: output {out_shape}, {count} scalar variables)":
        "∂{out}/∂{names} のヤコビ行列  （{rows} × {columns}: 出力 {out_shape}、スカラー変数 {count} 個）",
    "flattened: a row per entry of {out}, a column per entry of {name}, in C order (the last index varies fastest)":
        "平坦化して表示: {out} の要素ごとに 1 行、{name} の要素ごとに 1 列（C の順序: 最後の添字がいちばん速く変わる）",
    "(--full prints every entry)": "（--full ですべての要素を表示）",
    "no variables: the value is a constant, and there is no Jacobian": "変数がない: 値は定数なのでヤコビ行列はない",
    "the identity: ∂{out}/∂{name} = I ({out} moves exactly as {name} does)":
        "単位行列: ∂{out}/∂{name} = I（{out} は {name} とまったく同じだけ動く）",
    "diagonal: each entry of {out} depends only on the matching entry of {name} (elementwise)":
        "対角行列: {out} の各要素は {name} の対応する要素だけに依存する（要素ごとの演算）",
    # ----- an output too large for a Jacobian (jacobian.py) -----
    "{out} is {shape}: its Jacobian takes one reverse sweep per entry, and the limit is {limit} entries; take the "
    "gradient of a reduction instead (gradcli grad \"sum(...)\"), or of one entry ({entry})":
        "{out} は {shape}: ヤコビ行列には出力の要素ごとに逆伝播が 1 回必要で、上限は {limit} 要素。代わりに和などで"
        "スカラーにしたものの勾配（gradcli grad \"sum(...)\"）か、一つの要素（{entry}）の勾配を求める",
    "the Jacobians of {out} ({shape}) with respect to {names} have {count} entries in all, and the limit is {limit}; "
    "choose fewer variables with --wrt, or take the gradient of a reduction instead (gradcli grad \"sum(...)\")":
        "{out}（{shape}）の {names} についてのヤコビ行列は合わせて {count} 要素あり、上限は {limit}。--wrt で変数を"
        "減らすか、代わりに和などでスカラーにしたものの勾配（gradcli grad \"sum(...)\"）を求める",
}

VECTOR_TRACE = {  # the trace of vectors and matrices (array_trace.py, render/array_trace.py)
    "shape convention: ∂{out}/∂X has the shape of X (its entry [i, j] is ∂{out}/∂X[i, j]), "
    "so each contribution is checked against its input's shape":
        "形状（Shape Convention）の規約: ∂{out}/∂X は X と同じ形（要素 [i, j] は ∂{out}/∂X[i, j]）。"
        "そこで各寄与の形を入力の形と照合する",
    "each node's shape and value, inputs first": "各ノードの形と値（入力から順に）",
    "from the output back: δ = ∂{out}/∂node, the upstream gradient, in the node's shape; "
    "each edge applies its rule to δ":
        "出力から逆向きに: δ = ∂{out}/∂ノード は上流から伝わる勾配で、ノードと同じ形。各辺は δ にその規則を適用する",
    "the shape of {name}": "{name} の形",
    "not the shape of {name} ({shape})": "{name} の形（{shape}）と一致しない",
    "⊙ is the Hadamard (entrywise) product: {formula} works entry by entry, so its Jacobian is diagonal, "
    "and δ times a diagonal matrix is δ ⊙ its diagonal":
        "⊙ はアダマール積（要素ごとの積）: {formula} は要素ごとに働くので、そのヤコビ行列は対角行列。"
        "δ に対角行列を掛けることは、δ ⊙ 対角成分 と同じ",
    "{input} was broadcast from {small} to {large}: a broadcast forward is a sum backward":
        "{input} は {small} から {large} へブロードキャストされた: 順伝播のブロードキャストは、逆伝播では和になる",
    "ᵀ (transpose): each entry of one factor meets a row or column of the other, and the transpose lines them "
    "up so that the gradient has the factor's shape":
        "ᵀ（転置）: 一方の因子の各要素は他方の行または列と掛け合わされる。転置はそれを揃え、勾配が因子と同じ形になるようにする",
    "every entry counts once in the sum, so each receives δ": "和では各要素が一度ずつ数えられるので、各要素は δ を受け取る",
    "every entry counts 1/n in the mean, so each receives δ/n": "平均では各要素が 1/n ずつ数えられるので、各要素は δ/n を受け取る",
    "softmax's Jacobian is diag({node}) − {node} {node}ᵀ (each output depends on every input); "
    "the rule applies it to δ without building it":
        "softmax のヤコビ行列は diag({node}) − {node} {node}ᵀ（各出力がすべての入力に依存する）。"
        "規則はこの行列を作らずに δ に適用する",
    "log_softmax's Jacobian is I − 1 softmax({input})ᵀ (each output depends on every input); "
    "the rule applies it to δ without building it":
        "log_softmax のヤコビ行列は I − 1 softmax({input})ᵀ（各出力がすべての入力に依存する）。"
        "規則はこの行列を作らずに δ に適用する",
    "transposing δ puts each entry back where it came from": "δ を転置すると、各要素が元の位置に戻る",
    "only the indexed entry was used: it receives δ, every other entry 0":
        "使われたのは添字の要素だけ: その要素が δ を受け取り、ほかの要素は 0",
    "element {slot} of the list is row {slot} of {node}: it receives row {slot} of δ":
        "リストの要素 {slot} は {node} の {slot} 行目: δ の {slot} 行目を受け取る",
    "sum over axis {axes} of {term}": "{term} の軸 {axes} に沿った和",
    "sum over axes {axes} of {term}": "{term} の軸 {axes} に沿った和",
    "sum of all entries of {term}": "{term} の全要素の和",
    "({function} then the cross-entropy: each entry collects a term from every output, and the terms sum to this)":
        "（{function} の後に交差エントロピー: 各要素はすべての出力から項を集め、その和がこれになる）",
    "local Jacobian ∂{node}/∂{name}": "局所的なヤコビ行列 ∂{node}/∂{name}",
    "diagonal": "対角行列",
    "δ (as a row, 1×{rows}) · J ({rows}×{columns}) = the contribution":
        "δ（行ベクトル、1×{rows}）· J（{rows}×{columns}）= 寄与",
    "each entry sums a term from every output: ∂{out}/∂{name}[j] = Σᵢ δ[i] J[i, j]":
        "各要素はすべての出力からの項の和: ∂{out}/∂{name}[j] = Σᵢ δ[i] J[i, j]",
    "Σᵢ δ[i] {a}[i] (1[i = j] − {a}[j]) with δ[i] = −{y}[i]/{a}[i]: −{y}[j] + {a}[j] Σᵢ {y}[i] "
    "= {a}[j] − {y}[j], as Σ {y} = 1":
        "δ[i] = −{y}[i]/{a}[i] のとき Σᵢ δ[i] {a}[i] (1[i = j] − {a}[j]) = −{y}[j] + {a}[j] Σᵢ {y}[i] "
        "= {a}[j] − {y}[j]（Σ {y} = 1 だから）",
    "Σᵢ δ[i] (1[i = j] − softmax({z})[j]) = δ[j] − softmax({z})[j] Σᵢ δ[i]: with δ proportional to −{y} "
    "and Σ {y} = 1 per row, softmax({z}) − {y} (times the scale)":
        "Σᵢ δ[i] (1[i = j] − softmax({z})[j]) = δ[j] − softmax({z})[j] Σᵢ δ[i]: δ が −{y} に比例し、"
        "各行で Σ {y} = 1 なので softmax({z}) − {y}（の定数倍）",
    "a node used in several places sums the contributions from every path; each has the node's shape":
        "複数の場所で使われるノード（分岐ノード）は、すべての経路からの寄与を合計する。どの寄与もノードと同じ形",
}

WORKSHEET = {  # gradcli worksheet (worksheet.py, render/worksheet.py)
    "Backprop worksheet: {program}": "{program} の誤差逆伝播の演習",
    "Answer key: {program}": "{program} の解答",
    "(a random point: --random-point --seed {seed})": "（無作為に選んだ点: --random-point --seed {seed}）",
    "Fill in each empty cell: the value of every node, inputs first.": "空欄を埋める: 各ノードの値を入力から順に。",
    "Fill in each empty cell, from the output back: the local gradients (their rule and value), the contributions "
    "upstream × local, the branch sums and the gradient.":
        "空欄を出力から逆向きに埋める: 局所的な微分（その式と値）、寄与（上流から伝わる勾配 × 局所的な微分）、"
        "分岐ノードでの和、そして勾配。",
    "Fill in each empty cell: first every node's value, then, from the output back, the local gradients, the "
    "contributions upstream × local, the branch sums and the gradient.":
        "空欄を埋める: まず各ノードの値を、次に出力から逆向きに局所的な微分、寄与（上流から伝わる勾配 × "
        "局所的な微分）、分岐ノードでの和、そして勾配。",
    "upstream ∂{out}/∂node": "上流から伝わる勾配 ∂{out}/∂ノード",
    "local partial": "局所的な微分",
    "rule": "その式",
    "local gradient": "その値",
    "path": "経路",
    "contribution": "寄与",
    "Check your answers": "答え合わせ",
    "Check your gradients: replace each {placeholder} with your ∂{out}/∂NAME and run:":
        "勾配の答え合わせ: 各 {placeholder} を自分で求めた ∂{out}/∂名前 の値に置き換えて実行する:",
    "Check your values against the forward pass that this command prints:":
        "値の答え合わせ: 次のコマンドが出力する順伝播と比べる:",
    "With the answer key's numbers the check passes (exit status 0):":
        "解答の数を入れると、チェックは通る（終了コード 0）:",
    # ----- errors -----
    "--random-point: no point fit for hand work after {tries} tries with --seed {seed} (each hit a kink, a math "
    "error, or a number of more than {digits} digits); try another --seed, or give the point with --at":
        "--random-point: --seed {seed} で {tries} 回試したが、手計算に向く点は見つからなかった（どの点も"
        "微分できない点、数学的なエラー、{digits} 桁を超える数のいずれかに当たった）。別の --seed を試すか、"
        "--at で点を与える",
    "worksheets are for scalar programs; on vectors and matrices `gradcli trace` shows every step":
        "演習シートは数（スカラー）のプログラムだけに作れる。ベクトルと行列では `gradcli trace` がすべての手順を示す",
    "--format latex: pdflatex cannot typeset {character} ({name}) in {text}; --format md or html can":
        "--format latex: pdflatex は {text} の {character}（{name}）を組版できない。--format md か html なら出力できる",
    "--format latex: pdflatex cannot typeset Japanese; with --lang ja use --format md or html (a printable A4 page)":
        "--format latex: pdflatex は日本語を組版できない。--lang ja では --format md か html（A4 で印刷できるページ）を使う",
    "a worksheet is Markdown, HTML or LaTeX (--format), not JSON": "演習シートは Markdown、HTML、LaTeX（--format）で、JSON ではない",
    "--seed goes with --random-point": "--seed は --random-point と一緒に使う",
    "nothing to fill in: {program} has no {blank} step to work out (--blank forward, backward or both)":
        "空欄がない: {program} には求める手順（{blank}）がない（--blank forward、backward、both）",
    "--answers {path}: cannot write it: {reason}": "--answers {path}: 書き込めない: {reason}",
}

SECOND_ORDER = {  # gradcli hessian, diff --order (hessian.py, dual.py, render/hessian.py)
}

FORWARD_MODE = {  # trace --mode forward|both, gradcli jvp (forward_mode.py, render/forward_mode.py)
}

EXACT = {  # --exact (exact.py)
}

DESCENT = {  # gradcli descend (descent.py, render/descent.py)
}

FRAMES = {  # what surrounds every message on stderr (looked up exactly, never matched as a template)
    "error": "エラー",
    "warning": "警告",
    " (column {column})": "（{column} 列目）",
    " (line {line}, column {column})": "（{line} 行目、{column} 列目）",
    "line {line}": "{line} 行目",
}

MESSAGES = {  # errors and warnings on stderr; {name} matches any text
    # ----- the point (--at, --data, --wrt; api.bind) -----
    "the program has no variable or named intermediate {name} (it has: {known})":
        "プログラムに変数や名前付きの中間変数 {name} はない（あるのは: {known}）",
    "{name} is a constant ({value}) and cannot be given a value": "{name} は定数（{value}）なので値を与えられない",
    "the value of {name} must be a number, not {value}": "{name} の値は数でなければならない（{value} ではなく）",
    "the value of {name} is too large for a double": "{name} の値が倍精度で表せないほど大きい",
    "the value of {name} must be finite, not {value}": "{name} の値は有限でなければならない（{value} ではなく）",
    "{name} is computed by the program and cannot be given a value": "{name} はプログラムが計算するので値を与えられない",
    "{name} is not used by the program; its value is ignored": "{name} はプログラムで使われていないので、その値は無視する",
    "no value for {names}": "{names} の値がない",
    "--data {name}: the program has no variable {quoted} (its variables: {known})":
        "--data {name}: プログラムに変数 {quoted} はない（変数は: {known}）",
    "--wrt {name}: {name} is data (--data), which has no gradient": "--wrt {name}: {name} はデータ（--data）なので勾配はない",
    "{name} is not allowed: a value must be a finite number": "{name} は使えない: 値は有限の数でなければならない",
    "{name} is not a number (a value is a number or a constant expression such as pi/4)":
        "{name} は数ではない（値は数か、pi/4 のような定数式）",
    "{text} uses {name}: a value is a number or a constant expression such as pi/4":
        "{text} は {name} を使っている: 値は数か、pi/4 のような定数式",
    "{text} is not a value: a value is a number or a constant expression such as pi/4, without '=' or ';'":
        "{text} は値ではない: 値は数か、pi/4 のような定数式（'=' や ';' は含まない）",
    "{option} {part}: not name=value (example: {option} x=-2,y=5)": "{option} {part}: 名前=値 の形ではない（例: {option} x=-2,y=5）",
    "{option} {part}: {name} is not a variable name": "{option} {part}: {name} は変数名ではない",
    "{option} {part}: no value after {name}=": "{option} {part}: {name}= の後に値がない",
    "{name} is given twice (--at, --data)": "{name} が二度与えられている（--at、--data）",
    "{name} is expected twice": "{name} の期待値が二度与えられている",
    "--{option} {binding}: {reason}": "--{option} {binding}: {reason}",  # the reason of an option's error, translated
    "--wrt: no names given (example: --wrt x,q)": "--wrt: 名前がない（例: --wrt x,q）",
    # ----- reading the program -----
    "cannot read {path}: {reason}": "{path} を読めない: {reason}",
    "cannot read standard input: it is closed": "標準入力を読めない: 閉じている",
    "the program has more than {bytes} bytes; the limit is {limit} characters":
        "プログラムが {bytes} バイトを超えている。上限は {limit} 文字",
    "the program is not valid UTF-8 (byte {byte} at offset {offset})":
        "プログラムが正しい UTF-8 ではない（オフセット {offset} のバイト {byte}）",
    "gradcli needs the Python package {package}, which is not installed: python3 -m pip install {package}":
        "gradcli には Python パッケージ {package} が必要だが、インストールされていない: python3 -m pip install {package}",
    # ----- usage -----
    "give the program either as EXPR or with --file, not both": "プログラムは EXPR か --file のどちらか一方で与える",
    "missing the program: give EXPR, '-' for standard input, or --file PATH":
        "プログラムがない: EXPR、標準入力なら '-'、または --file PATH で与える",
    "--check checks one point (--at), not a --points file": "--check が調べるのは 1 点（--at）で、--points のファイルではない",
    "--rtol, --atol and --check-timeout go with --check": "--rtol、--atol、--check-timeout は --check と一緒に使う",
    "--max-rows goes with --trace": "--max-rows は --trace と一緒に使う",
    "--trace explains one point (--at), not a --points file": "--trace が説明するのは 1 点（--at）で、--points のファイルではない",
    "--format applies to --points output": "--format は --points の出力に使う",
    "--json asks for JSON Lines output; it contradicts --format csv": "--json は JSON Lines の出力を求めるので --format csv と矛盾する",
    "the program and --points cannot both come from standard input": "プログラムと --points の両方を標準入力から読むことはできない",
    "choose one of --latex and --plain": "--latex と --plain のどちらか一方を選ぶ",
    "interrupted": "中断された",
    # ----- click's own messages about options and commands -----
    "No such option '{option}'. Did you mean {suggestion}?": "オプション {option} はない。{suggestion} のことか？",
    "No such option '{option}'. (Did you mean one of: {suggestions}?)": "オプション {option} はない（候補: {suggestions}）",

    "No such option '{option}'.": "オプション {option} はない。",
    "No such command '{name}'.": "コマンド {name} はない。",
    "Option '{option}' requires an argument.": "オプション {option} には値が必要。",
    "Missing argument '{name}'.": "引数 {name} がない。",
    "Invalid value for {param}: {reason}": "{param} の値が正しくない: {reason}",
    "{value} is not a valid integer range.": "{value} は整数ではない。",
    "{value} is not a valid float range.": "{value} は数ではない。",
    "{value} is not in the range {range}.": "{value} は範囲 {range} に入っていない。",
    "{value} is not one of {choices}.": "{value} は {choices} のどれでもない。",
    "{value} is not a finite number.": "{value} は有限の数ではない。",
    "{message} A program that starts with '-' goes last, after '--', with the options before it: {example}":
        "{message} '-' で始まるプログラムは、オプションの後に '--' を置いてから最後に書く: {example}",
    # ----- math errors at the point (engine.math_error, the op table's domains) -----
    "math error in {op}: {reason}": "{op} で数学的なエラー: {reason}",
    "{expression} overflows a double": "{expression} が倍精度で表せないほど大きい",
    "a negative number to a non-integer power is not real ({power})": "負の数の非整数乗は実数ではない（{power}）",
    "zero to a negative power divides by zero ({power})": "0 の負の乗は 0 で割ることになる（{power}）",
    "the logarithm of 0 is -infinity": "0 の対数は -∞",
    "the logarithm of a negative number ({value}) is not real": "負の数（{value}）の対数は実数ではない",
    "a logarithm's base must be positive and not 1 (base {value})": "対数の底は正で 1 以外でなければならない（底 {value}）",
    "{name} needs an argument in [-1, 1], got {value}": "{name} の引数は [-1, 1] の範囲でなければならない（{value} が与えられた）",
    "division by zero ({value} / 0)": "0 による除算（{value} / 0）",
    "square root of a negative number ({value})": "負の数の平方根（{value}）",
}

JAPANESE = {**TRACE, **CHECK, **DIFF, **GRAPH, **BATCH, **SHAPES, **PARSE, **GRADIENT, **JACOBIAN, **VECTOR_TRACE, **WORKSHEET, **SECOND_ORDER, **FORWARD_MODE, **EXACT, **DESCENT, **FRAMES, **MESSAGES}
_TEMPLATES = {english: japanese for english, japanese in JAPANESE.items() if english not in FRAMES}


_chosen = "en"


def language(option: str | None) -> tuple[str, str | None]:
    """The language asked for: --lang, else GRADCLI_LANG (`ja`, `ja_JP.UTF-8`, ...), else English.

    Also a warning when GRADCLI_LANG names a language gradcli does not speak, so that a typo
    (or GRADCLI_LANG=$LANG in France) does not pass unnoticed.
    """
    if option:
        return option.lower(), None
    chosen = os.environ.get("GRADCLI_LANG", "")
    if chosen.lower().startswith("ja"):
        return "ja", None
    if chosen and not chosen.lower().startswith(("en", "c.", "posix")) and chosen.lower() != "c":
        return "en", f"GRADCLI_LANG={chosen} is not a language of gradcli (en, ja): its output is in English"
    return "en", None


def choose(lang: str) -> None:
    """Make `lang` the language of everything this process prints from now on."""
    global _chosen
    _chosen = lang


def current() -> str:
    return _chosen


def translator(lang: str | None = None) -> Callable[[str], str]:
    """A function from an English string to its text in `lang` (default: the chosen language)."""
    if (lang or _chosen) == "ja":
        return lambda text: JAPANESE.get(text, text)
    return lambda text: text


def tr(text: str, **fields) -> str:
    """`text` in the chosen language, with `fields` filled in: tr("{n} rows", n=3)."""
    if _chosen == "ja":
        text = JAPANESE.get(text, text)
    return text.format(**fields) if fields else text


_templates: list[tuple[re.Pattern, str]] | None = None
_FIELD = re.compile(r"\{(\w+)\}")


def _compiled() -> list[tuple[re.Pattern, str]]:
    """Every entry but FRAMES as (pattern, Japanese template), most specific (longest literal text) first."""
    global _templates
    if _templates is None:
        entries = []
        for english, japanese in _TEMPLATES.items():
            if "{" not in english:
                continue
            pieces = _FIELD.split(english)  # literal, field, literal, field, ...
            pattern, seen = "", set()
            for k, piece in enumerate(pieces):
                if k % 2 == 0:
                    pattern += re.escape(piece)
                else:  # a field named twice stands for the same text both times
                    pattern += f"(?P={piece})" if piece in seen else f"(?P<{piece}>.+?)"
                    seen.add(piece)
            literal = sum(len(piece) for piece in pieces[::2])
            entries.append((literal, re.compile(pattern + r"\Z", re.DOTALL), japanese))
        entries.sort(key=lambda entry: -entry[0])
        _templates = [(pattern, japanese) for _, pattern, japanese in entries]
    return _templates


def message(text: str) -> str:
    """An error or warning message in the chosen language: the first template it matches,
    refilled in Japanese (each field itself translated when it is a message too); else as it is."""
    if _chosen != "ja":
        return text
    if text in _TEMPLATES:
        return _TEMPLATES[text]
    for pattern, japanese in _compiled():
        found = pattern.match(text)
        if found:
            return japanese.format(**{key: message(value) for key, value in found.groupdict().items()})
    return text
