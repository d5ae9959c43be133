"""`evault purge plan|run` and `evault purge list draw|show|mark|sign`: clearing footage
whose retention has ended, only through a signed list (RT-1..RT-5; Pingdingshan 第15条).
The timer draws up the list (待清除清单) and deletes nothing; a records keeper marks each
item; an approver signs; `purge run` deletes exactly the signed no-value items. Each
command is one call of the service API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from vault.cli.common import Csv, Table, call, call_receiving, console, csv_mode, print_json
from vault.errors import UsageError, VaultError
from vault.i18n import N_, _

app = typer.Typer(
    help="Clear footage whose retention has ended, through signed purge lists (RT-1..RT-5).",
    no_args_is_help=True,
)
lists_app = typer.Typer(
    help="Purge lists (待清除清单): draw up, show, mark, sign.", no_args_is_help=True
)
app.add_typer(lists_app, name="list")

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ListArg = Annotated[int, typer.Argument(help="The purge list's number.", metavar="LIST_ID")]


def _report(report: dict[str, Any], verb: str, key: str) -> None:
    done = report[key]
    for entry in done:
        console.print(
            f"{verb} evidence {entry['evidence_id']} ({escape(entry['rule'])}, retained "
            f"until {entry['retain_until']})"
        )
    for entry in report["kept"]:
        console.print(f"kept evidence {entry['evidence_id']}: {escape(entry['reason'])}")
    job = f" (purge job {report['job_id']})" if report["job_id"] else ""
    console.print(f"{verb} {len(done)}, kept {len(report['kept'])}{job}")


@app.command()
def plan(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As of this time (ISO 8601), else now.")
    ] = None,
    as_json: Json = False,
) -> None:
    """What may be cleared (due, nothing holds it): a dry run, nothing recorded."""
    report = call(ctx, "purge.plan", as_of=as_of)
    if as_json:
        print_json(report)
        return
    _report(report, "may clear", "would_delete")


@app.command()
def run(ctx: typer.Context, as_json: Json = False) -> None:
    """Delete, as of now, the items of signed purge lists the rules still let go; nothing
    else. An item held since it was signed, or whose retention grew, is skipped."""
    report = call(ctx, "purge.run")
    if as_json:
        print_json(report)
        return
    _report(report, "deleted", "deleted")


def _said(listing: dict[str, Any]) -> str:
    c = listing["counts"]
    signed = f", signed by {listing['signed_by']}" if listing["signed_by"] else ""
    return (
        f"purge list {listing['list_id']} ({listing['status']}{signed}): {c['items']} items, "
        f"{c['unmarked']} unmarked, {c['no_value']} of no value, {c['keep']} kept, "
        f"{c['deleted']} deleted, {c['skipped']} skipped"
    )


@lists_app.command()
def draw(ctx: typer.Context, as_json: Json = False) -> None:
    """Draw up a list of what may be cleared now (the daily timer runs this). Deletes nothing."""
    listing = call(ctx, "purge.draw")
    if as_json:
        print_json(listing)
        return
    if listing is None:
        console.print(_("nothing has come due that is not already on a purge list"))
        return
    console.print(escape(_said(listing)))


@lists_app.command()
def show(
    ctx: typer.Context,
    list_id: Annotated[
        int | None, typer.Argument(help="One list (else all of them).", metavar="[LIST_ID]")
    ] = None,
    status: Annotated[str | None, typer.Option(help="Only lists drawn, signed or done.")] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Write the list as a paper to sign (清除清单).")
    ] = None,
    as_json: Json = False,
    csv: Csv = False,
) -> None:
    """The purge lists, or one list with its items, marks and outcomes."""
    if pdf is not None:
        if list_id is None:
            raise UsageError(
                N_("{option} prints one list: name its {arg}"), option="--pdf", arg="LIST_ID"
            )
        if not pdf.absolute().parent.is_dir():
            raise VaultError(
                N_("no folder {folder} to write {path} in"), folder=pdf.absolute().parent, path=pdf
            )
        listing, _placed = call_receiving(
            ctx, "purge.lists", {"purge-list.pdf": pdf}, list_id=list_id, pdf=True
        )
        console.print(
            _("wrote {path} ({count} items)").format(path=pdf, count=listing["counts"]["items"]),
            markup=False,
        )
        return
    found = call(ctx, "purge.lists", list_id=list_id, status=status)
    if as_json:
        print_json(found)
        return
    csv_mode(csv)
    if list_id is None:
        for listing in found["lists"]:
            console.print(escape(_said(listing)))
        return
    console.print(escape(_said(found)))
    table = Table("evidence", "recorded", "camera", "officer", "rule", "mark", "by", "outcome")
    for item in found["items"]:
        mark = item["mark"] or ""
        if item["mark_reason"]:
            mark += f": {item['mark_reason']}"
        outcome = item["outcome"] or ""
        if item["outcome_reason"] and item["outcome"] == "skipped":
            outcome += f": {item['outcome_reason']}"
        table.add_row(
            str(item["evidence_id"]),
            item["recorded_at"] or "",
            item["device_id"] or "",
            item["officer_id"] or "",
            item["rule"],
            mark,
            item["marked_by"] or "",
            outcome,
        )
    console.print(table)


@lists_app.command()
def mark(
    ctx: typer.Context,
    list_id: ListArg,
    evidence_ids: Annotated[
        list[int] | None,
        typer.Argument(help="Items to mark (else every unmarked one).", metavar="[EVIDENCE_ID]..."),
    ] = None,
    no_value: Annotated[
        bool, typer.Option("--no-value", help="Of no value to keep (无保存价值): may be cleared.")
    ] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Keep it (needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (required with --keep).")] = None,
    category: Annotated[
        str | None,
        typer.Option(help="With --keep: classify it long-term in this RT-2 category."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Appraise items of a list not yet signed (records keeper, Pingdingshan 第15条)."""
    if no_value == keep:
        raise UsageError(N_("say {no_value} or {keep}"), no_value="--no-value", keep="--keep")
    done = call(
        ctx,
        "purge.mark",
        list_id=list_id,
        mark="keep" if keep else "no_value",
        evidence_ids=evidence_ids or None,
        reason=reason,
        category=category,
    )
    if as_json:
        print_json(done)
        return
    console.print(
        f"purge list {list_id}: marked {done['mark']}: {', '.join(str(e) for e in done['marked'])}",
        markup=False,
    )


@lists_app.command()
def sign(
    ctx: typer.Context,
    list_id: ListArg,
    note: Annotated[str | None, typer.Option(help="The approver's remark (审批意见).")] = None,
    as_json: Json = False,
) -> None:
    """Sign a fully marked list (approver; never its maker nor one who marked it)."""
    listing = call(ctx, "purge.sign", list_id=list_id, note=note)
    if as_json:
        print_json(listing)
        return
    console.print(escape(_said(listing)))
