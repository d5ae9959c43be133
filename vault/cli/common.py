"""What every command shares: the way to the vault's API and the consoles it prints to.

The CLI never opens the database or the store itself. Each command calls one operation of
the service API (`call`): over the Unix socket of `evault serve`, where the service learns
the caller's uid from the kernel; or, for the vault's own account (the owner of
$EVAULT_HOME) and root, in-process for bootstrap and maintenance, through the very same
dispatcher and policy. Root acting on a vault owned by its service account runs the call in
a child that has dropped to that account, so no file of the vault becomes root's.

This module and every `vault/cli/*` module import nothing of the vault's domain, so a call
over the socket costs an interpreter start and one round trip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from vault import client, i18n
from vault.errors import VaultError
from vault.i18n import N_, _

if TYPE_CHECKING:
    from rich.table import Table as RichTable


def _console(stderr: bool) -> Console:
    """Output that goes to a file or a pipe is never cut at 80 columns: every identifier is
    printed whole, and a table is plain aligned text (Table below) (issue 17)."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty()
    return Console(stderr=stderr, highlight=False, width=PIPED_WIDTH if piped else None)


PIPED_WIDTH = 100_000

# `--csv` on every listing: the table's columns as CSV on stdout, every value whole.
Csv = Annotated[bool, typer.Option("--csv", help="Print CSV (the table's columns).")]


def csv_mode(on: bool) -> None:
    """Print every table of this command as CSV (tables.py): plain, whole, unwrapped."""
    if on:
        from vault.cli import tables

        tables.CSV["on"] = True
        console.width = PIPED_WIDTH


# The span of a listing, alike in every command: a bare date as --to takes that day in.
FromDate = Annotated[
    str | None,
    typer.Option(
        "--from", metavar="DATE", help="At or after: a date (2026-11-23) or a time (ISO 8601)."
    ),
]
ToDate = Annotated[
    str | None,
    typer.Option(
        "--to",
        metavar="DATE",
        help="Up to: a date takes that whole day in; a time (ISO 8601) is the end, exclusive.",
    ),
]
console = _console(stderr=False)
err_console = _console(stderr=True)


class ServiceRefused(VaultError):
    """An operation answered with an error; its exit code is the service's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def local_home(config: Path | None) -> Path:
    """The vault home an in-process call would open (as vault.config finds it)."""
    env_home = os.environ.get("EVAULT_HOME")
    home = Path(env_home) if env_home else Path.home() / ".local/share/evidence-vault"
    path = config or (
        Path(os.environ["EVAULT_CONFIG"]) if os.environ.get("EVAULT_CONFIG") else None
    )
    path = path or home / "vault.toml"
    try:
        with path.open("rb") as stream:
            named = tomllib.load(stream).get("home")
    except (OSError, tomllib.TOMLDecodeError):
        named = None
    return Path(named) if isinstance(named, str) else home


@dataclass
class State:
    config: Path | None
    socket: str | None = None
    timezone: str = "UTC"

    def route(self) -> tuple[str, str | None]:
        """('socket', path), ('local', None) or ('forked', None): see the module's doc."""
        explicit = client.explicit_socket(self.socket)
        if explicit:
            return "socket", explicit
        home = local_home(self.config)
        try:
            owner = home.stat().st_uid
        except OSError:
            owner = None
        me = os.geteuid()
        if me == 0:
            return ("forked", None) if owner not in (None, 0) else ("local", None)
        if owner == me or (owner is None and not os.path.exists(client.DEFAULT_SOCKET)):
            return "local", None
        return "socket", client.DEFAULT_SOCKET

    def call(
        self,
        op: str,
        params: dict[str, Any],
        inputs: dict[str, bytes] | None = None,
        into: Path | None = None,
    ) -> client.Answer:
        how, path = self.route()
        try:
            if how == "socket":
                assert path is not None
                if self.config is not None or os.environ.get("EVAULT_CONFIG"):
                    err_console.print(
                        "note: the configuration named by --config or $EVAULT_CONFIG is not "
                        f"used: the vault service at {path} keeps its own settings",
                        soft_wrap=True,
                    )
                answer = client.call(path, op, params, inputs, into)
            else:
                from vault.service.local import run_local

                answer = run_local(self.config, op, params, inputs, into, forked=how == "forked")
        except client.ClientError as exc:
            raise ServiceRefused(str(exc), 1) from None
        self.timezone = answer.timezone
        if answer.language in i18n.LANGUAGES:
            i18n.use(str(answer.language))  # the thin client speaks as the vault does
        if not answer.ok:
            raise ServiceRefused(answer.message or answer.error or f"{op} failed", answer.exit_code)
        return answer


def state_of(ctx: typer.Context) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    return state


def call(ctx: typer.Context, op: str, **params: Any) -> Any:
    """Run one operation of the service API and return its result."""
    return state_of(ctx).call(op, params).result


def call_with_files(
    ctx: typer.Context,
    op: str,
    inputs: dict[str, Path] | None = None,
    **params: Any,
) -> Any:
    """An operation that reads files the caller names (sent as bytes: the service never
    opens a path of the caller's)."""
    data = {}
    for name, path in (inputs or {}).items():
        try:
            data[name] = path.read_bytes()
        except OSError as exc:
            raise VaultError(
                N_("cannot read {path}: {problem}"), path=path, problem=exc.strerror
            ) from None
    return state_of(ctx).call(op, params, inputs=data).result


def call_receiving(
    ctx: typer.Context, op: str, targets: dict[str, Path], **params: Any
) -> tuple[Any, dict[str, Path]]:
    """An operation that hands files back: each name the service sends is moved to its
    target (a new file or folder, written by this process, as the caller's own user)."""
    for target in targets.values():
        if target.exists() or target.is_symlink():
            raise VaultError(
                N_("{path} already exists: remove it or choose another name"), path=target
            )
    first = next(iter(targets.values()))
    staging = Path(tempfile.mkdtemp(prefix=".evault-", dir=first.resolve().parent))
    try:
        answer = state_of(ctx).call(op, params, into=staging)
        placed = {}
        for name, target in targets.items():
            source = staging / name
            if source.exists():
                shutil.move(str(source), str(target))
                placed[name] = target
        return answer.result, placed
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def timezone_of(ctx: typer.Context) -> str:
    """The station's zone, as the last answer named it."""
    return state_of(ctx).timezone


def Table(*headers: Any, **options: Any) -> RichTable:
    """A table that never hides an identifier (tables.py), imported only when one is
    printed (never for --json); piped into a file it has no box drawing."""
    from vault.cli.tables import WholeTable

    if not console.is_terminal:
        options.setdefault("box", None)
        options.setdefault("show_edge", False)
        options.setdefault("pad_edge", False)
    table = WholeTable(*headers, **options)
    for column in table.columns:
        column.overflow = "fold"
    return table


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_fields(detail: dict[str, Any], skip: tuple[str, ...] = (), tz: str | None = None) -> None:
    """A record as labelled fields, never as Python or JSON literals (issue 17): times in
    the station's zone to the second (the zone named once, at the top), yes/no, "-" for
    nothing; nested records indented; a list of records as a small table."""
    if tz:
        console.print("[dim]" + _("times in {zone}").format(zone=escape(tz)) + "[/]")
    _fields(detail, skip, tz, 22)


def _fields(detail: dict[str, Any], skip: tuple[str, ...], tz: str | None, width: int) -> None:
    for key, value in detail.items():
        if key in skip:
            continue
        label = f"[bold]{escape(key):>{width}}[/]"
        if isinstance(value, dict) and value:
            console.print(label, soft_wrap=True)
            _fields(value, (), tz, width + 4)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            console.print(label, soft_wrap=True)
            headers = list(dict.fromkeys(k for row in value for k in row))
            table = Table(*headers)
            for row in value:
                table.add_row(*(escape(human(row.get(h), tz)) for h in headers))
            console.print(table)
        else:
            console.print(f"{label}  {escape(human(value, tz))}", soft_wrap=True)


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def human(value: Any, tz: str | None = None) -> str:
    """One value as a person reads it: no None, True or JSON brackets."""
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and tz and _ISO_TIME.match(value):
        from vault.timeutil import local_display

        return local_display(value.replace("Z", "+00:00"), tz)
    if isinstance(value, list):
        return ", ".join(human(v, tz) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {human(v, tz)}" for k, v in value.items())
    return str(value)


def print_nothing_matched(
    answer: dict[str, Any],
    labels: dict[str, tuple[str, str]],
    tz: str | None,
    as_json: bool = False,
    csv: bool = False,
) -> bool:
    """A listing whose filters matched nothing says so and names the values that exist
    (issue 16). LABELS: a filter's key -> (its option, what its values are). The answer on
    stdout stays what it always was for --json ([]) and --csv (the header): the note goes to
    standard error, with --json as one JSON object {"matched": 0, "known": {...}}. True when
    it printed the note in place of a table."""
    known = answer.get("known")
    if answer.get("matched") or not known:
        return False
    if as_json:
        typer.echo(json.dumps({"matched": 0, "known": known}, ensure_ascii=False), err=True)
        return False
    line = escape(nothing_matched(known, labels, tz))
    (err_console if csv else console).print(line, soft_wrap=True)
    return not csv


def nothing_matched(
    known: dict[str, Any], labels: dict[str, tuple[str, str]], tz: str | None = None
) -> str:
    """'nothing matched --device 9999999: no such camera (did you mean 3100001?); cameras:
    3100001, 3100002' — one clause per filter given."""
    clauses = []
    for key, entry in known.items():
        option, plural = labels.get(key, (f"--{key}", "values"))
        if "values" in entry:
            what = f"{option} {entry['given']}"
            if entry["exists"]:
                clauses.append(f"{what} (on record)")
                continue
            what += ": none on record"
            if entry["did_you_mean"]:
                what += f" (did you mean {' or '.join(entry['did_you_mean'])}?)"
            shown = ", ".join(entry["values"]) or "none yet"
            more = f" and {entry['more']} more" if entry.get("more") else ""
            clauses.append(f"{what}; {plural}: {shown}{more}")
        elif "counts" in entry:
            counts = ", ".join(f"{k} ({v})" for k, v in entry["counts"].items()) or "none yet"
            clauses.append(f"{option} {entry['given']}; {plural}: {counts}")
        elif "first" in entry:
            given = entry["given"]
            span = " ".join(f"--{k} {given[k]}" for k in ("from", "to") if given.get(k))
            if entry["first"] is None:
                clauses.append(f"{span}; nothing is recorded yet")
            else:
                first, last = human(entry["first"], tz), human(entry["last"], tz)
                clauses.append(f"{span}; {plural} from {first} to {last}")
    return "nothing matched " + "; ".join(clauses)
