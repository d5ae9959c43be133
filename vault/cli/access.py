"""`evault access ...`: requests, approvals, grants and the access register (AC-1..AC-9).
Each command is one call of the service API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vault.cli.common import (
    Csv,
    FromDate,
    Table,
    ToDate,
    call,
    call_receiving,
    call_with_files,
    console,
    csv_mode,
    err_console,
    print_fields,
    print_json,
    print_nothing_matched,
    timezone_of,
)
from vault.errors import RegisterTampered, VaultError
from vault.i18n import N_, _
from vault.timeutil import local_display

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
            help="KIND=FILE (repeat): unit_letter (介绍信), applicant_id (身份证件), "
            "power_of_attorney (委托书), authorisation (授权书), practising_licence (律师执业证)."
        ),
    ] = None,
    reader: Annotated[
        str | None,
        typer.Option(help="The person who looks (查阅人), when not the requester (AC-4)."),
    ] = None,
    reader_id: Annotated[
        str | None,
        typer.Option(
            "--reader-id",
            help="The ID number that person presents (default: the requester's --id-number).",
        ),
    ] = None,
    to_prove: Annotated[
        str | None,
        typer.Option("--to-prove", help="What the footage is to prove (证明对象, EV-1)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """File an access request; refused with the list of missing documents (AC-4..AC-6)."""
    documents, files = [], {}
    for n, text in enumerate(document or []):
        _kind, sep, name = text.partition("=")
        path = Path(name)
        sent = bool(sep) and path.is_file()
        if sent:
            files[f"document-{n}"] = path
        documents.append(
            {"text": text, "input": f"document-{n}" if sent else None, "file_name": path.name}
        )
    filed = call_with_files(
        ctx,
        "access.request",
        files,
        scope=scope,
        action=action,
        reason=reason,
        requester=requester,
        documents=documents,
        reader=reader,
        reader_id=reader_id,
        to_prove=to_prove,
    )
    if as_json:
        print_json(filed)
        return
    console.print(
        _("request {id} filed: {action} {scope} (pending approval)").format(
            id=filed["request_id"], action=filed["action"], scope=filed["scope"]
        )
    )


@app.command()
def approve(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="Request id.")],
    reason: Reason,
    days: Annotated[
        int | None,
        typer.Option(help="Grant validity in days, at least 1 (default access.grant_days)."),
    ] = None,
) -> None:
    """Approve a request (approvers only): a grant for its scope and action."""
    grant = call(ctx, "access.approve", request_id=request_id, reason=reason, days=days)
    console.print(
        _("grant {id}: {action} {scope} until {until}").format(
            id=grant["grant_id"],
            action=grant["action"],
            scope=grant["scope"],
            until=grant["expires_at"],
        )
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
    call(
        ctx,
        "access.deny",
        request_id=request_id,
        reason=reason,
        statutory_ground=statutory_ground,
    )
    console.print(_("request {id} denied").format(id=request_id))


@app.command()
def revoke(
    ctx: typer.Context,
    grant_id: Annotated[int, typer.Argument(help="Grant id.")],
    reason: Reason,
) -> None:
    """Revoke a grant before it expires."""
    call(ctx, "access.revoke", grant_id=grant_id, reason=reason)
    console.print(_("grant {id} revoked").format(id=grant_id))


REQUEST_LABELS = {"status": ("--status", "requests by status")}


@app.command("requests")
def list_requests(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, approved or denied.")] = None,
    as_json: Json = False,
    csv: Csv = False,
) -> None:
    """List access requests (an officer: those he filed or asked for)."""
    csv_mode(csv)
    answer = call(ctx, "access.requests", status=status, explain=True)
    rows = answer["requests"]
    if as_json:
        print_json(rows)  # the list it always was; what exists goes to standard error
        print_nothing_matched(answer, REQUEST_LABELS, None, as_json=True)
        return
    if print_nothing_matched(answer, REQUEST_LABELS, None, csv=csv):
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


@app.command()
def show(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="Request id.")],
    document: Annotated[
        str | None,
        typer.Option(
            metavar="KIND",
            help="Write this sealed document of the request (e.g. unit_letter) to --out.",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="The file to write --document to.")] = None,
    as_json: Json = False,
) -> None:
    """One request as an approver weighs it: the requester, what its scope covers now, the
    decision and grant, and the documents presented (--document KIND --out FILE writes one
    out of the store; an officer sees only his own requests)."""
    if (document is None) != (out is None):
        raise VaultError(
            N_("{document} and {out} go together: the kind, and the file to write"),
            document="--document",
            out="--out",
        )
    if document is not None and out is not None:
        if not out.absolute().parent.is_dir():
            raise VaultError(
                N_("no folder {folder} to write {path} in"), folder=out.absolute().parent, path=out
            )
        written, placed = call_receiving(
            ctx, "access.document", {"document": out}, request_id=request_id, kind=document
        )
        if "document" not in placed:
            raise VaultError(
                N_("the service sent no {document} of request {id}"),
                document=document,
                id=request_id,
            )
        if as_json:
            print_json(written | {"written_to": str(out)})
            return
        console.print(
            _(
                "wrote {path}: {kind} {file} of request {id}, {size} bytes, {hash} {sha256} "
                "(as sealed)"
            ).format(
                path=out,
                kind=written["kind"],
                file=written["file_name"],
                id=request_id,
                size=f"{written['size']:,}",
                hash="SHA-256",
                sha256=written["sha256"],
            ),
            soft_wrap=True,
        )
        return
    detail = call(ctx, "access.show", request_id=request_id)
    if as_json:
        print_json(detail)
        return
    print_fields(detail, tz=timezone_of(ctx))


@app.command("grants")
def list_grants(
    ctx: typer.Context,
    mine: Annotated[
        bool, typer.Option("--mine", help="Only your own grants (an officer sees no others).")
    ] = False,
    as_json: Json = False,
    csv: Csv = False,
) -> None:
    """List grants with their expiry and revocation."""
    csv_mode(csv)
    rows = call(ctx, "access.grants", mine=mine)
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
    from_: FromDate = None,
    to: ToDate = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Check the chain, its signatures and anchors; exit 4 if bad."
        ),
    ] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write a printable CSV.")] = None,
    pdf_out: Annotated[Path | None, typer.Option("--pdf", help="Write a printable PDF.")] = None,
    as_json: Json = False,
) -> None:
    """Print the access register (查阅登记簿), check it, or write it for printing (AC-7)."""
    if verify:
        report = call(ctx, "access.log", from_=from_, to=to, verify=True)
        if as_json:
            print_json(report)
        elif report["ok"]:
            console.print(
                _("register intact: {count} entries, signed through {seq}, key {key}").format(
                    count=report["entries"], seq=report["signed_through"], key=report["key_id"]
                )
            )
        for warning in report.get("warnings", []):  # not tampering: exit 0 stands
            err_console.print(f"warning: {warning['reason']}", soft_wrap=True)
        if not report["ok"]:
            first = report["problems"][0]
            err_console.print(
                _("register tampered: entry {seq}: {reason}").format(
                    seq=first["seq"], reason=first["reason"]
                ),
                soft_wrap=True,
            )
            for problem in report["problems"][1:]:
                err_console.print(
                    _("  also entry {seq}: {reason}").format(
                        seq=problem["seq"], reason=problem["reason"]
                    ),
                    soft_wrap=True,
                )
            raise typer.Exit(RegisterTampered.exit_code)
        return
    if csv_out or pdf_out:
        targets = {
            name: target
            for name, target in (("register.csv", csv_out), ("register.pdf", pdf_out))
            if target is not None
        }
        for target in targets.values():
            if not target.absolute().parent.is_dir():
                raise VaultError(
                    N_("no folder {folder} to write {path} in"),
                    folder=target.absolute().parent,
                    path=target,
                )
        written, _placed = call_receiving(
            ctx,
            "access.log",
            targets,
            from_=from_,
            to=to,
            csv=csv_out is not None,
            pdf=pdf_out is not None,
        )
        for target in targets.values():
            console.print(
                _("wrote {path} ({count} entries)").format(path=target, count=written["entries"])
            )
        return
    entries = call(ctx, "access.log", from_=from_, to=to)
    if as_json:
        print_json(entries)
        return
    tz = timezone_of(ctx)
    table = Table("#", f"time ({tz})", "event", "who", "what", "reason", "approver", "by")
    for e in entries:
        table.add_row(
            str(e["seq"]),
            local_display(e["at"], tz),
            e["event"],
            e["who"] or "",
            e["what"] or "",
            e["reason"] or "",
            e["approver"] or "",
            e["handled_by"] or f"({e['os_user']})",
        )
    console.print(table)


@app.command()
def sign(ctx: typer.Context) -> None:
    """Sign the register's head now (as the service account that can read the key)."""
    seq = call(ctx, "access.sign")["signed_through"]
    if seq:
        console.print(_("signed the register through entry {seq}").format(seq=seq))
    else:
        console.print(_("register is empty"))
