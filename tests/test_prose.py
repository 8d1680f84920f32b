"""Numbers in prose: a notebook's markdown holds setup facts and quotes, never measured numbers.

Measured results are printed by code from the measured values (``display(Markdown(f"..."))``); the markdown
cells may hold only setup facts (sizes, epochs, layer counts, years, section numbers: integers) and quotes.
This test flags, in every notebook's markdown cells, the numbers that look measured:

- percentages: ``31.6%``, ``28 %``;
- decimal fractions: ``0.92``, ``.76``, ``1.27``;
- per-seed records: ``seed 0``, ``seeds 0, 1 and 2``, ``28 / 56 / 53``.

Not scanned: blockquotes (``> ...``, a quote naming its source, up to the next blank line), LaTeX
(``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``), code spans and fenced code blocks, link and image URLs,
HTML tags and comments, and a section number after a heading mark or a word such as *section*, *table*, *fig.*,
*eq.* or *slide* (``section 2.3``, ``### 4.1 Pooling``).

A setup decimal that must stay in prose is best written as code: `` `lr=0.01` ``. Where that reads badly, the
cell may list it in an HTML comment, invisible once rendered::

    <!-- setup numbers: 1.7159, 0.5 -->

Each listed text (separated by commas or semicolons) is then allowed everywhere in that cell. Quoted results go in
a blockquote with their source, not in this list.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from notebook_status import NOT_YET_CONVERTED  # tests/ is on sys.path under pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

ALLOW = re.compile(r"<!--\s*setup numbers:(.*?)-->", re.S | re.I)
FENCE = re.compile(r"^ {0,3}(```|~~~)")
QUOTE = re.compile(r"^ {0,3}>")
# spans removed from a line, in this order; each is replaced by a space
HIDDEN = [
    re.compile(r"<!--.*?-->", re.S),  # HTML comments
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\\\[.*?\\\]", re.S),
    re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S),  # code spans, any number of backticks
    re.compile(r"(?<![\\$])\$(?!\s)[^$]*?(?<![\s\\])\$(?!\d)", re.S),  # inline math $...$ (not "$5 and $6")
    re.compile(r"\\\(.*?\\\)", re.S),
    re.compile(r"(?<=\])\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)"),  # the URL of [text](url) and ![alt](url)
    re.compile(r"(?<=\])\[[^\]]*\]"),  # [text][ref]
    re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$", re.M),  # [ref]: url "title"
    re.compile(r"<https?://[^>]*>|https?://\S+"),  # autolinks and bare URLs
    re.compile(r"</?[A-Za-z][^<>]*>"),  # HTML tags (attributes included)
]
SECTION = (  # words after which a decimal is a section number: "section 2.3", "Table 4.1"
    r"(?:(?:section|sections|sec\.|§|chapter|ch\.|table|tab\.|figure|fig\.|figs\.|eq\.|equation|slide|slides"
    r"|part|step|algorithm|appendix)\s*)"
)
MEASURED = [
    ("percentage", re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?%")),
    ("per-seed record", re.compile(r"\bseeds?\s+(?:=\s*)?\d+(?:\s*(?:,|and|&|to|-|–)\s*\d+)*", re.I)),
    ("per-seed record", re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?){2,}(?![\w.])")),
    ("decimal", re.compile(r"(?<![\w.])\d*\.\d+(?![\w.]*\d)")),  # not versions (3.11.7) nor names (v1.2)
]


def prose(markdown: str) -> list[tuple[int, str]]:
    """The scanned text of a markdown cell: ``(line number, text)`` with quotes, code, math and URLs blanked."""
    text = markdown
    for pattern in HIDDEN[:3]:  # multi-line spans first
        text = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    lines, in_fence, in_quote = [], False, False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if QUOTE.match(line):
            in_quote = True
        elif not line.strip():
            in_quote = False
        if in_quote:
            continue  # a blockquote runs to the next blank line (lazy continuation lines included)
        line = re.sub(r"^ {0,3}#{1,6}\s+\d+(?:\.\d+)*\.?", "#", line)  # heading section numbers
        for pattern in HIDDEN[3:]:
            line = pattern.sub(" ", line)
        lines.append((number, line))
    return lines


def _section_number(line: str, start: int) -> bool:
    return re.search(SECTION + r"$", line[:start], re.I) is not None


def measured_numbers(markdown: str) -> list[tuple[int, str, str]]:
    """The measured-looking numbers of a markdown cell: ``(line number, kind, text)``."""
    allowed = [a.strip() for m in ALLOW.finditer(markdown) for a in re.split(r"[,;]", m.group(1)) if a.strip()]
    found = []
    for number, line in prose(markdown):
        taken: list[tuple[int, int]] = []
        for kind, pattern in MEASURED:
            for m in pattern.finditer(line):
                if any(s < m.end() and m.start() < e for s, e in taken):
                    continue  # part of a number already reported (the 0.95 of 0.95%)
                text = m.group().strip()
                if text in allowed or (kind == "decimal" and _section_number(line, m.start())):
                    continue
                taken.append(m.span())
                found.append((number, kind, text))
    return found


def offenders(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    out = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        source = cell.source.splitlines()
        for number, kind, text in measured_numbers(cell.source):
            out.append(
                f"{path.name} cell {index} line {number}: {kind} {text!r} in: {source[number - 1].strip()[:160]}"
            )
    return out


NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[p.stem for p in NOTEBOOK_PATHS])
def test_no_measured_numbers_in_markdown(path):
    if path.stem in NOT_YET_CONVERTED:
        pytest.skip(f"{path.stem}: {NOT_YET_CONVERTED[path.stem]}")
    found = offenders(path)
    assert not found, (
        "measured-looking numbers in markdown (print results from code; quote in a blockquote with the source; "
        "write setup decimals as `code`); cell = index in nb.cells, from 0:\n" + "\n".join(found)
    )


def test_only_the_unconverted_notebooks_are_skipped():
    # a notebook enters this set when converted, and never goes back on the list
    converted = {
        "01_history_and_lenet",
        "02_alexnet_ablations",
        "03_modules",
        "04_transfer",
        "05a_weak_supervision",
        "05b_regions_and_alignment",
        "06a_detection",
        "07a_recurrent_networks",
        "09_generalization_and_understanding",
    }
    assert not (set(NOT_YET_CONVERTED) & converted)
    assert set(NOT_YET_CONVERTED) <= {p.stem for p in NOTEBOOK_PATHS}, "remove the entries of notebooks that are gone"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("It plateaus near 92% after 3 epochs.", [("percentage", "92%")]),
        ("a gain of 28 % and 31.6% of the digits", [("percentage", "28 %"), ("percentage", "31.6%")]),
        ("accuracy 0.92, then .76", [("decimal", "0.92"), ("decimal", ".76")]),
        (
            "it held on seed 0, not on seeds 0, 1 and 2",
            [("per-seed record", "seed 0"), ("per-seed record", "seeds 0, 1 and 2")],
        ),
        ("errors 28 / 56 / 53 over three runs", [("per-seed record", "28 / 56 / 53")]),
        ("from 0.95% to 0.8%", [("percentage", "0.95%"), ("percentage", "0.8%")]),
        ("60,000 parameters, 5x5 kernels, 3 epochs, 7×7 patches, in 1998, top-5 error, 32×32 inputs", []),
        (
            "> LeNet-5 reaches 0.95% error (LeCun et al. 1998, Table 2)\ncontinued 0.8% quote\n\nbut 0.7% here",
            [("percentage", "0.7%")],
        ),
        ("the scaled tanh $f(a) = 1.7159 \\tanh(\\tfrac{2}{3}a)$ and $$p = 0.5$$", []),
        ("$$\nx = 0.25\n$$\nand \\(y = 0.5\\)", []),
        ("use `lr=0.01` and ``a `b` 0.3``, not 0.3", [("decimal", "0.3")]),
        ("```python\nx = 0.92\n```\nafter 0.5", [("decimal", "0.5")]),
        ("see [the 0.9 paper](https://arxiv.org/abs/1512.03385v1.2) and <https://x.org/0.5>", [("decimal", "0.9")]),
        ("![a plot](fig_0.92.png) <img src='a0.5.png' width=0.5>", []),
        ("### 2.1 Pooling\nas in section 3.2, Table 4.1 and slide 12.3", []),
        ("dropout 0.5 <!-- setup numbers: 0.5; 1.7159 --> with 1.7159", []),
        ("Python 3.11 costs $5 and $6 at 20.5", [("decimal", "3.11"), ("decimal", "20.5")]),
    ],
)
def test_scanner(markdown, expected):
    assert [(kind, text) for _, kind, text in measured_numbers(markdown)] == expected
