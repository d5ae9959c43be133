"""Camera and user text on a terminal, always literally: the one place it is made safe.

A file name, a device's model, a case name or a reason someone typed may look like Rich
markup (`[bold]`, `[/]`, `[link=...]`) or hold control characters (an escape sequence that
recolours or rewrites the terminal, a newline that fakes a row, a bidi override). Every
table cell (tables.WholeTable) and every line the CLI prints from such text goes through
`literal`: markup is never parsed from it, and what a screen would not show as itself is
shown escaped (\\x1b, \\u202e). Code that wants a style says so with `styled`.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.text import Text

_HIDDEN = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str) -> str:
    """TEXT with every character a screen would not show as itself escaped."""
    if text.isprintable():  # the common case: nothing to do
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _HIDDEN else c for c in text)


def literal(value: Any, style: str = "") -> Text:
    """VALUE shown exactly as it is: never markup, never a control sequence."""
    return Text(visible(value if isinstance(value, str) else str(value)), style=style)


def styled(value: Any, style: str) -> Text:
    """VALUE in STYLE (a colour of the CLI's own), its text still literal."""
    return literal(value, style)


def plain(cell: Any) -> str:
    """A cell's text as a person reads it (CSV, widths): a Text's plain text, or the
    value literally."""
    if isinstance(cell, Text):
        return cell.plain
    return visible(cell if isinstance(cell, str) else str(cell))
