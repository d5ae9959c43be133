"""Issue 17: a listing never hides an identifier, at any width, on a terminal or piped."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from vault.cli import common

IDS = [
    ("3100001", "环罚〔2026〕12号", "3100001_010203_20261129074803_0001.MP4", "a" * 64),
    ("3100002", "环罚〔2026〕123号", "3100002_010204_20261129074803_0002.MP4", "b" * 64),
]


def render(width: int | None, terminal: bool) -> str:
    out = io.StringIO()
    target = Console(file=out, width=width or common.PIPED_WIDTH, force_terminal=terminal)
    saved = common.console
    common.console = target
    try:
        table = common.Table("camera", "case", "file", "sha256", title="evidence")
        for row in IDS:
            table.add_row(*row)
        target.print(table)
    finally:
        common.console = saved
    return out.getvalue()


@pytest.mark.parametrize("width", [60, 80, 140])
def test_every_identifier_is_whole_on_one_line_at_any_terminal_width(width: int) -> None:
    text = render(width, terminal=True)
    lines = text.splitlines()
    for row in IDS:
        for value in row[:3]:
            assert any(value in line for line in lines), (width, value, text)
    assert "…" not in text


def test_piped_output_is_plain_text_without_box_drawing() -> None:
    text = render(None, terminal=False)
    assert not set(text) & set("─━│┃┏┓┗┛┌┐└┘╭╮╰╯┡┩├┤")
    for row in IDS:
        line = next(line for line in text.splitlines() if row[0] in line)
        for value in row:
            assert value in line  # one record, one line, every value whole


def test_a_record_is_shown_as_fields_never_as_python_or_json_literals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=out, width=100))
    common.print_fields(
        {
            "evidence_id": 7,
            "legal_hold": True,
            "purged_at": None,
            "recorded_at": "2026-11-23T07:00:00Z",
            "media": {"codec": "h264", "width": 1920},
            "derivatives": [{"kind": "viewing", "size": 10}, {"kind": "poster", "size": 2}],
            "confidentiality": ["privacy", "secrets"],
        },
        tz="Asia/Shanghai",
    )
    text = out.getvalue()
    for literal in ("None", "True", "False", "{", "[", '"'):
        assert literal not in text, (literal, text)
    assert "2026-11-23 15:00:00" in text and text.count("Asia/Shanghai") == 1
    assert "privacy, secrets" in text and "viewing" in text and "poster" in text


def test_help_names_what_a_value_is() -> None:
    import typer.main

    from vault.cli import app
    from vault.cli.metavars import name_metavars

    command = typer.main.get_command(app)
    name_metavars(command)
    seen: dict[str, str] = {}

    def walk(cmd: object, path: str) -> None:
        import click

        assert isinstance(cmd, click.Command)
        for param in cmd.params:
            if param.name and param.metavar:
                seen[f"{path} {param.name}"] = param.metavar
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")

    walk(command, "evault")
    assert seen["evault evidence show evidence_id"] == "ID"
    assert seen["evault evidence list from_"] == "DATE"
    assert seen["evault evidence list officer"] == "BADGE"
    assert seen["evault case create number"] == "CASE"
    assert "INTEGER" not in seen.values()
