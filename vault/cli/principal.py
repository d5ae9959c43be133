"""`evault principal add|map|level|disable|password|totp|list`: who may ask for, approve
and see records (AC-1), and log in to the web console.

The CLI acts as the principal the OS user is mapped to. On a new vault the vault's own
account (its owner, or root) runs the first `principal add NAME --role records_keeper`,
which makes NAME the records keeper mapped to that account; from then on only a records
keeper adds principals and maps users. Each command is one call of the service API.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.common import Csv, Table, call, console, csv_mode, print_json
from vault.i18n import _

app = typer.Typer(help="Principals (staff and outside requesters) and roles.", no_args_is_help=True)


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Full name (as written in the register).")],
    kind: Annotated[
        str,
        typer.Option(
            "--type",
            help="staff, or a requester's organisation: public_security (公安), procuratorate "
            "(检察院), court (法院), state_security (国家安全), discipline (纪检监察), "
            "judicial_admin (司法行政), audit (审计), superior (上级行政执法主体), party "
            "(当事人: an organisation), natural_person (当事人（自然人）), lawyer (律师), "
            "other_region (异地执法单位).",
        ),
    ] = "staff",
    role: Annotated[
        list[str] | None,
        typer.Option(
            help="Staff role (repeat): officer, records_keeper, approver, legal, auditor."
        ),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Unit or organisation.")] = None,
    officer: Annotated[
        str | None, typer.Option(help="Badge number: makes them a case handler where named.")
    ] = None,
    id_number: Annotated[
        str | None, typer.Option("--id-number", help="ID card or licence number.")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Map to this OS user (one of this machine's).")
    ] = None,
    approver_level: Annotated[
        str | None,
        typer.Option(
            "--approver-level",
            help="An approver's level (AC-0): head (局机关主要负责人), deputy (分管领导), "
            "unit_head (综合行政执法机构负责人). Without it an approver decides nothing.",
        ),
    ] = None,
    case: Annotated[
        str | None,
        typer.Option(help="A party's or lawyer's own case: its requests reach only it (AC-5)."),
    ] = None,
) -> None:
    """Add a principal (the first one, by the vault's own account: a records keeper mapped
    to it)."""
    added = call(
        ctx,
        "principal.add",
        name=name,
        kind=kind,
        roles=role or [],
        unit=unit,
        officer=officer,
        id_number=id_number,
        user=user,
        approver_level=approver_level,
        case=case,
    )
    mapped = _(", OS user {user}").format(user=added["os_user"]) if added["os_user"] else ""
    roles = ", ".join(added["roles"]) or "-"
    if added["approver_level"]:
        roles += f" ({added['approver_level']})"
    console.print(
        _("principal {name} added ({kind}; {roles}{mapped})").format(
            name=added["name"], kind=added["kind"], roles=roles, mapped=mapped
        )
    )


@app.command("map")
def map_(
    ctx: typer.Context,
    os_user: Annotated[str, typer.Argument(help="OS user name.")],
    name: Annotated[str, typer.Argument(help="Principal name.")],
) -> None:
    """Map an OS user to a staff principal: the CLI then acts as that principal."""
    principal = call(ctx, "principal.map", os_user=os_user, name=name)
    console.print(_("OS user {user} acts as {name}").format(user=os_user, name=principal["name"]))


@app.command()
def level(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Principal name (an approver).")],
    level: Annotated[str, typer.Argument(help="head, deputy or unit_head.")],
) -> None:
    """Set the level an approver approves at (AC-0; see access.approval)."""
    changed = call(ctx, "principal.level", name=name, level=level)
    console.print(
        _("{name} approves as {level}").format(
            name=changed["name"], level=changed["approver_level"]
        )
    )


@app.command()
def disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Principal name.")],
    reason: Annotated[str, typer.Option(help="Why (registered).")],
) -> None:
    """Disable a principal: no more CLI use, no use of their grants; the records stay."""
    call(ctx, "principal.disable", name=name, reason=reason)
    console.print(_("principal {name} disabled").format(name=name))


@app.command()
def password(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Principal name (staff).")],
) -> None:
    """Set NAME's web console password: asked twice on a terminal, else read from standard
    input's first line. A new password unlocks the account and ends its sessions."""
    import sys

    from vault.errors import VaultError

    if sys.stdin.isatty():
        import getpass

        given = getpass.getpass(f"web password for {name}: ")
        if getpass.getpass("again: ") != given:
            raise VaultError("the two passwords differ; nothing was changed")
    else:
        given = sys.stdin.readline().rstrip("\r\n")
    done = call(ctx, "principal.password", name=name, password=given)
    what = "web account made" if done["created"] else "web password changed"
    console.print(f"{name}: {what} ({done['sessions_ended']} sessions ended)")


@app.command()
def totp(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Principal name (with a web account).")],
    remove: Annotated[bool, typer.Option("--remove", help="Log in with the password alone.")] = (
        False
    ),
) -> None:
    """Give NAME's web login a TOTP second factor: prints the otpauth:// URI to enter in an
    authenticator app (a new secret each time), or removes it."""
    done = call(ctx, "principal.totp", name=name, remove=remove)
    if done["uri"]:
        typer.echo(done["uri"])
    else:
        console.print(f"{name}: TOTP removed")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    csv: Csv = False,
) -> None:
    """List principals with their roles and OS users."""
    csv_mode(csv)
    rows = call(ctx, "principal.list")
    if as_json:
        print_json(rows)
        return
    table = Table("name", "type", "roles", "unit", "badge", "OS user")
    for row in rows:
        table.add_row(
            row["name"],
            f"{row['kind']} ({row['kind_label']})",
            ", ".join(row["roles"])
            + (f" ({row['approver_level']})" if row["approver_level"] else "")
            or "-",
            row["unit"] or "",
            row["officer"] or "",
            row["os_user"] or "",
        )
    console.print(table)
