"""Tables that never hide an identifier (issue 17), imported only when one is printed.

A cell is never cut short with "…". When the terminal is too narrow for every column at its
widest value, the listing is printed one record per block ("header: value" lines), so ids,
case numbers, file names and badges stay whole and greppable; piped into a file the
console is as wide as the longest line (common.py), so the table is printed whole, as
plain aligned text without box drawing.

Every cell given as a string is shown literally (display.literal): a file name, a model or
a reason that looks like Rich markup is printed as it is, never parsed, so no call site
escapes anything; a cell the code wants coloured is a Text (display.styled).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from vault.cli.display import literal
from vault.cli.display import plain as _plain

CSV = {"on": False}  # `--csv`: every table printed as CSV instead (common.csv_mode)


def csv_lines(table: Table) -> list[str]:
    """The table as CSV lines: its headers, then its rows, every value whole and plain."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_plain(c.header) for c in table.columns])
    for row in zip(*(list(c.cells) for c in table.columns), strict=True):
        writer.writerow([_plain(cell) for cell in row])
    return out.getvalue().splitlines()


class WholeTable(Table):
    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        """A row; its string cells are shown literally (never parsed as markup)."""
        cells = [literal(c) if isinstance(c, str) else c for c in renderables]
        super().add_row(*cells, style=style, end_section=end_section)

    def _widest(self) -> int:
        """The width every column at its widest value needs, with padding and borders."""
        total = 0
        for column in self.columns:
            values: Iterable[Any] = [column.header, *column.cells]
            total += max((cell_len(_plain(v)) for v in values), default=0) + 3
        return total + 1

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if CSV["on"]:
            for text in csv_lines(self):
                yield Text(text, no_wrap=True, overflow="ignore")
            return
        if not self.columns or self._widest() <= options.max_width:
            yield from super().__rich_console__(console, options)
            return
        if self.title:
            yield Text(_plain(self.title), style="bold")
        headers = [_plain(c.header) for c in self.columns]
        width = max(cell_len(h) for h in headers)
        for number, row in enumerate(zip(*(list(c.cells) for c in self.columns), strict=True)):
            if number:
                yield Text("")
            for header, cell in zip(headers, row, strict=True):
                line = Text(header.ljust(width) + "  ", style="bold")
                line.append_text(cell if isinstance(cell, Text) else Text(_plain(cell)))
                line.overflow = "fold"
                yield line
