"""`evault access ...`: requests, approvals, grants and the access register (AC-1..AC-9)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vault.access import grants, printable, register, requests
from vault.access.principals import current
from vault.cli.common import console, err_console, print_json, vault_of
from vault.timeutil import local_display, parse_time
from vault.errors import RegisterTampered

app = typer.Typer(help="Access requests, approvals, grants and the register.", no_args_is_help=True)

Reason = Annotated[str, typer.Option(help="Why (goes into the register).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def request(
    ctx: typer.Context,
    scope: Annotated[str, typer.Option(help="evidence:ID or case:NUMBER.")],
    action: Annotated[str, typer.Option(help="view, copy or export.")],
    reason: Reason,
    requester: Annotated[
        str | None,
        typer.Option(help="Principal asking (default: you); records keeper files for others."),
    ] = None,
    document: Annotated[
        list[str] | None,
        typer.Option(
            help="KIND=FILE (repeat): unit_letter, applicant_id, power_of_attorney, "
            "authorisation, practising_licence."
        ),
    ] = None,
) -> None:
    """File an access request; refused with the list of missing documents (AC-4..AC-6)."""
    presented = [requests.parse_document(d) for d in document or []]
    filed = requests.file_request(vault_of(ctx), scope, action, reason, requester, presented)
    console.print(f"request {filed.id} filed: {filed.action} {filed.scope} (pending approval)")


@app.command()
def approve(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="Request id.")],
    reason: Reason,
    days: Annotated[
        int | None, typer.Option(help="Grant validity (default access.grant_days).")
    ] = None,
) -> None:
    """Approve a request (approvers only): a grant for its scope and action."""
    grant = grants.approve(vault_of(ctx), request_id, reason, days)
    console.print(
        f"grant {grant.id}: {grant.action} {grant.scope} until {grant.expires_at.isoformat()}"
    )


@app.command()
def deny(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="Request id.")],
    reason: Reason,
    statutory_ground: Annotated[
        str | None,
        typer.Option(
            help="The statutory ground (e.g. 国家秘密) that alone allows refusing a "
            "supervisory or judicial body (AC-4)."
        ),
    ] = None,
) -> None:
    """Deny a request (approvers only)."""
    grants.deny(vault_of(ctx), request_id, reason, statutory_ground)
    console.print(f"request {request_id} denied")


@app.command()
def revoke(
    ctx: typer.Context,
    grant_id: Annotated[int, typer.Argument(help="Grant id.")],
    reason: Reason,
) -> None:
    """Revoke a grant before it expires."""
    grants.revoke(vault_of(ctx), grant_id, reason)
    console.print(f"grant {grant_id} revoked")


@app.command("requests")
def list_requests(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, approved or denied.")] = None,
    as_json: Json = False,
) -> None:
    """List access requests."""
    vault = vault_of(ctx)
    with register.refusals_registered(vault, "requests"), vault.session() as session:
        printable.may_read(current(vault, session))
        rows = requests.list_requests(session, status)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "requester", "action", "scope", "status", "documents", "reason")
    for r in rows:
        docs = ", ".join(d["kind"] for d in r["documents"])
        table.add_row(
            str(r["request_id"]),
            r["requester"],
            r["action"],
            r["scope"],
            r["status"],
            docs,
            r["reason"],
        )
    console.print(table)


@app.command("grants")
def list_grants(ctx: typer.Context, as_json: Json = False) -> None:
    """List grants with their expiry and revocation."""
    vault = vault_of(ctx)
    with register.refusals_registered(vault, "grants"), vault.session() as session:
        printable.may_read(current(vault, session))
        rows = grants.list_grants(session)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "grantee", "action", "scope", "by", "expires", "revoked")
    for g in rows:
        table.add_row(
            str(g["grant_id"]),
            g["grantee"],
            g["action"],
            g["scope"],
            g["granted_by"],
            g["expires_at"],
            g["revoked_at"] or "",
        )
    console.print(table)


@app.command()
def log(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", help="At or after (ISO 8601).")] = None,
    to: Annotated[str | None, typer.Option(help="Before (ISO 8601).")] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Check the hash chain and signatures; exit 4 if bad.")
    ] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write a printable CSV.")] = None,
    pdf_out: Annotated[Path | None, typer.Option("--pdf", help="Write a printable PDF.")] = None,
    as_json: Json = False,
) -> None:
    """Print the access register (查阅登记簿), check it, or write it for printing (AC-7)."""
    vault = vault_of(ctx)
    tz = vault.settings.timezone
    with register.refusals_registered(vault, "log"), vault.session() as session:
        printable.may_read(current(vault, session))
        entries = register.entries(session, parse_time(from_, tz), parse_time(to, tz))
    if verify:
        report = register.verify(vault)
        if as_json:
            print_json(report.to_json())
        elif report.ok:
            console.print(
                f"register intact: {report.entries} entries, signed through "
                f"{report.signed_seq}, key {report.key_id}"
            )
        if not report.ok:
            first = report.problems[0]
            err_console.print(f"register tampered: entry {first['seq']}: {first['reason']}")
            for problem in report.problems[1:]:
                err_console.print(f"  also entry {problem['seq']}: {problem['reason']}")
            raise typer.Exit(RegisterTampered.exit_code)
        return
    if csv_out:
        printable.write_csv(entries, tz, csv_out)
        console.print(f"wrote {csv_out} ({len(entries)} entries)")
    if pdf_out:
        printable.write_pdf(vault.settings, entries, pdf_out)
        console.print(f"wrote {pdf_out} ({len(entries)} entries)")
    if csv_out or pdf_out:
        return
    if as_json:
        print_json([register.entry_json(e) for e in entries])
        return
    table = Table("#", f"time ({tz})", "event", "who", "what", "reason", "approver", "by")
    for e in entries:
        table.add_row(
            str(e.seq),
            local_display(e.at.isoformat(), tz),
            e.event,
            e.who or "",
            e.what or "",
            e.reason or "",
            e.approver or "",
            e.handled_by or f"({e.os_user})",
        )
    console.print(table)


@app.command()
def sign(ctx: typer.Context) -> None:
    """Sign the register's head now (as the service account that can read the key)."""
    seq = register.sign_now(vault_of(ctx))
    console.print(f"signed the register through entry {seq}" if seq else "register is empty")
