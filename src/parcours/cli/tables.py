"""A DataFrame as a Rich table that fits the terminal without cutting anything.

Rich shrinks columns that do not fit and cuts their headers to ``custo…``. Here every column
gets the width its values need (numbers never wrap; long text wraps on words), headers wrap at
their underscores, and the columns that do not fit are left out, named in a note on stderr,
so the reader knows to ask for them with ``--columns`` (or ``--format csv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

#: width a long text column gets before it wraps (more when the terminal has room)
TEXT_WIDTH = 24
#: what separates two columns: the (blank) rule and a padding space
GAP = 2
#: narrowest column a squeezed table may get
MIN_WIDTH = 4


@dataclass
class Layout:
    table: Table
    width: int
    left_out: list[str]


def _segments(header: str) -> list[str]:
    """A header's pieces, cut after each underscore: ``conversion_from_previous`` -> conversion_, from_, previous."""
    parts = header.split("_")
    return [p + "_" for p in parts[:-1]] + [parts[-1]]


def wrap_header(header: str, width: int) -> str:
    """The header on as few lines of at most ``width`` cells as its underscores allow."""
    lines: list[str] = []
    for seg in _segments(header):
        if lines and cell_len(lines[-1] + seg) <= width:
            lines[-1] += seg
        else:
            lines.append(seg)
    return "\n".join(lines)


def _need(header: str, cells: list[str], numeric: bool) -> tuple[int, int]:
    """(the width a column needs to read well, the width that shows every cell on one line)."""
    longest = max((cell_len(c) for c in cells), default=0)
    head = max(cell_len(s) for s in _segments(header))
    if numeric:
        return max(longest, head), max(longest, head)
    words = max((cell_len(w) for c in cells for w in c.split()), default=0)
    return max(min(longest, max(TEXT_WIDTH, words)), head), max(longest, head)


def _squeeze(widths: list[int], room: int) -> list[int]:
    """Narrow the widest columns until the sum fits ``room`` (only when even one column is too wide)."""
    widths = list(widths)
    while sum(widths) > room and max(widths) > MIN_WIDTH:
        i = widths.index(max(widths))
        widths[i] -= 1
    return widths


def layout(df: pd.DataFrame, width: int, title: str | None = None, keep_all: bool = False) -> Layout:
    """The table for ``df`` at most ``width`` cells wide.

    The first columns that fit are shown; ``keep_all`` (the user chose the columns) squeezes
    them all in instead, folding what must be folded rather than cutting it.
    """
    from parcours.cli.cells import formatter, is_numeric  # pandas: not for a table without rows

    names = [str(c) for c in df.columns]
    numeric = [is_numeric(df[c]) for c in df.columns]
    cells = [[fmt(v) for v in df[c]] for c, fmt in ((c, formatter(str(c), df[c])) for c in df.columns)]
    return layout_cells(names, numeric, cells, width, title, keep_all)


def layout_cells(names: list[str], numeric: list[bool], cells: list[list[str]], width: int, title: str | None = None,
                 keep_all: bool = False) -> Layout:
    """``layout`` of columns already written as text: ``cells`` holds one list of cells per column."""
    needs = [_need(n, col, num) for n, col, num in zip(names, cells, numeric, strict=True)]
    shown = len(names)
    if not keep_all:
        used, shown = 0, 0
        for need, _ in needs:
            if shown and used + GAP + need > width:
                break
            used += need + (GAP if shown else 0)
            shown += 1
    room = width - GAP * max(shown - 1, 0)
    widths = _squeeze([n for n, _ in needs[:shown]], room)
    spare = room - sum(widths)
    for i in range(shown):  # wrapped text takes the room left, in column order
        if not numeric[i] and spare > 0:
            extra = min(spare, needs[i][1] - widths[i])
            widths[i] += extra
            spare -= extra
    table = Table(title=title, caption="(no rows)" if not any(cells) else None, box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for i in range(shown):
        table.add_column(wrap_header(names[i], widths[i]), justify="right" if numeric[i] else "left",
                         width=widths[i], overflow="fold", no_wrap=numeric[i] and widths[i] >= needs[i][0])
    for row in zip(*cells[:shown], strict=True):
        table.add_row(*row)
    return Layout(table, sum(widths) + GAP * max(shown - 1, 0), names[shown:])
