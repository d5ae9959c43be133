"""Help that names what a value is (issue 17): `--officer BADGE`, `EVIDENCE_ID` as `ID`,
`--from DATE`, instead of TEXT and INTEGER. One rule by the parameter's name, applied to
every command once the app is built, so a new command gets it without being told."""

from __future__ import annotations

import click

# Parameter name (click's, underscores) -> metavar; the first rule that matches wins.
BY_NAME = {
    "evidence_id": "ID",
    "evidence_ids": "ID",
    "request_id": "ID",
    "grant_id": "ID",
    "gap_id": "ID",
    "stop_id": "ID",
    "grant": "ID",
    "number": "CASE",
    "case": "CASE",
    "device": "CAMERA",
    "device_id": "CAMERA",
    "officer": "BADGE",
    "handler": "BADGE",
    "officer_id": "BADGE",
    "badge": "BADGE",
    "from_": "DATE",
    "to": "DATE",
    "since": "DATE",
    "as_of": "DATE",
    "unit": "UNIT",
    "reason": "WHY",
    "note": "WHY",
    "out": "PATH",
    "volume": "PATH",
    "user": "OS_USER",
    "os_user": "OS_USER",
    "role": "ROLE",
    "days": "DAYS",
    "limit": "N",
    "count": "N",
}
BY_TYPE = {"integer": "N", "float": "NUMBER", "text": "TEXT", "path": "PATH"}


def name_metavars(command: click.Command) -> None:
    for param in command.params:
        if getattr(param, "is_flag", False) or param.metavar is not None:
            continue
        if isinstance(param.type, click.Choice):
            continue  # click lists the choices themselves
        name = param.name or ""
        metavar = BY_NAME.get(name) or (
            "ID" if name.endswith("_id") else BY_TYPE.get(param.type.name.lower())
        )
        if metavar:
            param.metavar = metavar
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            name_metavars(sub)
