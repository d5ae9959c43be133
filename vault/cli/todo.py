"""`evault todo`: what the caller is expected to act on, by his roles (issue 17). One call of
the service API; each non-empty section is printed as a small table."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vault.cli.common import Table, call, console, human, print_json, timezone_of
from vault.i18n import _

# Each section: its title, the command that acts on it, and its columns (key, header).
SECTIONS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "requests_to_decide": (
        "access requests to decide",
        "evault access show ID; evault access approve|deny ID",
        (
            ("request_id", "request"),
            ("requester", "requester"),
            ("requester_kind", "as"),
            ("action", "action"),
            ("scope", "scope"),
            ("filed_at", "filed"),
            ("level_needed", "decided by"),
        ),
    ),
    "purge_lists_to_sign": (
        "purge lists to sign (RT-1)",
        "evault purge list show ID; evault purge list sign ID",
        (("list_id", "list"), ("drawn_by", "drawn by"), ("drawn_at", "drawn"), ("items", "items")),
    ),
    "reasons_to_review": (
        "written reasons to review (RC-6)",
        "evault session review SUBJECT --result accepted|rejected",
        (
            ("subject", "subject"),
            ("version", "version"),
            ("given_by", "given by"),
            ("given_at", "given"),
            ("note", "reason"),
        ),
    ),
    "purge_lists_to_mark": (
        "purge lists to mark (RT-1)",
        "evault purge list show ID; evault purge list mark ID --no-value|--keep",
        (
            ("list_id", "list"),
            ("drawn_at", "drawn"),
            ("items", "items"),
            ("unmarked", "unmarked"),
        ),
    ),
    "stop_records_to_approve": (
        "stop records awaiting approval",
        "evault stop-record approve ID (an approver)",
        (
            ("stop_id", "stop record"),
            ("device_id", "camera"),
            ("officer", "officer"),
            ("from", "from"),
            ("to", "to"),
            ("reason", "reason"),
            ("filed_by", "filed by"),
        ),
    ),
    "gaps_without_reason": (
        "interruptions without a reason (RC-3)",
        "evault session annotate GAP --reason CODE --note WHY",
        (
            ("gap_id", "gap"),
            ("device_id", "camera"),
            ("officer", "officer"),
            ("session_id", "session"),
            ("from", "from"),
            ("to", "to"),
            ("seconds", "seconds"),
        ),
    ),
    "late_without_reason": (
        "late clips without a reason (IN-1)",
        "evault compliance late-reason ID --note WHY",
        (
            ("evidence_id", "evidence"),
            ("device_id", "camera"),
            ("officer", "officer"),
            ("recorded_at", "recorded"),
            ("sealed_at", "sealed"),
            ("due", "deadline"),
            ("hours_late", "hours late"),
        ),
    ),
    "openings_without_narration": (
        "recordings that open without narration (RC-1), until reviewed",
        "evault evidence view ID; evault review record SESSION --result ok|finding --note WHAT",
        (
            ("session_id", "session"),
            ("device_id", "camera"),
            ("officer", "officer"),
            ("start", "from"),
            ("evidence_id", "evidence"),
            ("finding", "finding"),
        ),
    ),
    "spot_checks_to_review": (
        "spot-check sessions to review (OV-2)",
        "evault review record SESSION --result ok|finding --note WHAT",
        (
            ("draw_id", "draw"),
            ("session_id", "session"),
            ("device_id", "camera"),
            ("officer", "officer"),
            ("start", "from"),
            ("end", "to"),
        ),
    ),
    "clocks_to_set": (
        "camera clocks to set (DV-2)",
        "set the camera's clock; its next docking measures it again",
        (
            ("device_id", "camera"),
            ("dock_id", "docking"),
            ("docked_at", "docked"),
            ("offset_s", "offset s"),
            ("finding", "finding"),
        ),
    ),
    "dead_media_jobs": (
        "media jobs that gave up",
        "evault media jobs; evault media retry",
        (("kind", "kind"), ("dead", "jobs")),
    ),
    "discs_to_make": (
        "footage kept long-term whose two discs are not made (EV-2)",
        "evault evidence discs ID... --out DIR; burn, label and file them",
        (
            ("evidence_id", "evidence"),
            ("file_name", "file"),
            ("category", "category"),
            ("cases", "cases"),
        ),
    ),
    "grants_expiring": (
        "your grants about to expire",
        "use them before they expire, or file a new request",
        (
            ("grant_id", "grant"),
            ("action", "action"),
            ("scope", "scope"),
            ("expires_at", "expires"),
        ),
    ),
    "last_verification": (
        "the last evault verify",
        "evault verify (daily); evault report compliance",
        (
            ("verified_at", "verified"),
            ("result", "result"),
            ("by", "by"),
        ),
    ),
}


def _cell(key: str, row: dict[str, Any], tz: str) -> str:
    if key == "officer":
        badge = row.get("officer_id") or "?"
        return f"{row['officer_name']}（{badge}）" if row.get("officer_name") else badge
    if key == "result":
        if row.get("verified_at") is None:
            return "never verified"
        found = row.get("findings") or 0
        return f"{found} findings (exit {row.get('exit_code')})" if found else "nothing found"
    return human(row.get(key), tz)


def todo(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What you are expected to act on, by your roles: requests to decide (approver);
    interruptions and late clips without a reason, dead media jobs, stop records awaiting
    approval, the evidence discs to make (records keeper); your own gaps, late clips and
    grants about to expire (officer); the last verification (auditor)."""
    found = call(ctx, "todo")
    if as_json:
        print_json(found)
        return
    tz = timezone_of(ctx)
    sections = [(n, rows) for n, rows in found["sections"].items() if rows and n in SECTIONS]
    if not sections:
        console.print(_("nothing to do"))
        return
    console.print("[dim]" + _("times in {zone}").format(zone=tz) + "[/]")
    for name, rows in sections:
        title, command, columns = SECTIONS[name]
        console.print(f"\n[bold]{title}[/] ({len(rows)}): {command}", soft_wrap=True)
        table = Table(*(header for _key, header in columns))
        for row in rows:
            table.add_row(*(_cell(key, row, tz) for key, _header in columns))
        console.print(table)
