"""docs/contributing.md's worked example quotes the code as it is.

Each Python block of the section "Adding an analysis: a worked example" is an excerpt of the file
named (in backticks) last before it: its lines, but for ``...`` (lines left out) and blank ones,
must appear in that file in the same order, whatever their indentation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Adding an analysis: a worked example"
_PATH = re.compile(r"`((?:src|tests)/[\w/.]+\.py)`")


def excerpts(text: str) -> list[tuple[str, list[str]]]:
    """(file, the excerpt's lines) for each Python block of the worked example."""
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    found, path, block = [], None, None
    for line in section.splitlines():
        if block is not None:
            if line.strip() == "```":
                found.append((path, block))
                block = None
            else:
                block.append(line)
        elif line.strip() == "```python":
            assert path is not None, "a code block of the worked example names no file before it"
            block = []
        else:
            path = (_PATH.findall(line) or [path])[-1]
    return found


def missing(excerpt: list[str], source: list[str]) -> str | None:
    """The first line of ``excerpt`` not found, in order, in ``source`` (None: all are there)."""
    at = 0
    for line in (x.strip() for x in excerpt):
        if not line or line == "...":
            continue
        try:
            at = next(i for i in range(at, len(source)) if source[i].strip() == line) + 1
        except StopIteration:
            return line
    return None


def test_the_worked_example_quotes_each_of_its_four_files():
    found = excerpts((ROOT / "docs" / "contributing.md").read_text("utf-8"))
    files = {path for path, _ in found}
    assert {"src/parcours/analytics/voc/scores.py", "src/parcours/cli/voc_cmd.py", "tests/test_voc_scores.py"} <= files
    assert any("pages.py" in f for f in files) and any("routes.py" in f for f in files)
    for path, excerpt in found:
        assert (ROOT / path).is_file(), f"docs/contributing.md quotes {path}, which does not exist: update the example"
        line = missing(excerpt, (ROOT / path).read_text("utf-8").splitlines())
        assert line is None, f"docs/contributing.md quotes {path}, which has no line {line!r} there (in that order)"


@pytest.mark.parametrize("excerpt, found", [
    (["def f():", "    ...", "    return 1"], True),
    (["    return 1", "def f():"], False),  # out of order
    (["def f():", "    return 2"], False),
])
def test_an_excerpt_is_found_only_in_order_and_word_for_word(excerpt, found):
    source = ["def f():", "    x = 0", "    return 1"]
    assert (missing(excerpt, source) is None) == found
