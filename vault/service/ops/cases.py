"""Operations on cases (RT-3, IN-4) and the cameras' keepers and
usage ledger (DV-1, DV-3).

A case's handler is named by a records keeper, never by the handler himself (AC-2): a
records keeper who is also an officer may not name his own badge. An officer (scope `own`)
sees only the cases whose handler he is.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from vault.cases import cases
from vault.db.models import Officer
from vault.dock import ledger as ledgers
from vault.errors import AccessRefused, NotFound, VaultError
from vault.i18n import N_, Phrase, either
from vault.service.api import Call, operation
from vault.service.ops.choices import choose, nearest
from vault.service.ops.scopes import handles_case, own_badge


@operation("case.create")
def create(
    call: Call,
    number: str,
    name: str,
    case_type: str,
    unit: str,
    handlers: list[str] | None = None,
    activities: list[str] | None = None,
    matters: list[str] | None = None,
    stages: list[str] | None = None,
    place: str | None = None,
    to_prove: str | None = None,
) -> dict[str, Any]:
    handlers = list(handlers or [])
    badge = call.badge()
    if badge is not None and badge in handlers:
        raise AccessRefused(
            N_(
                "{who}: a case's handler is named by a records keeper, never by the "
                "handler; {badge} is your own badge (another records keeper names you)"
            ),
            who=call.name,
            badge=badge,
        )
    case = cases.create_case(
        call.vault,
        number,
        name,
        case_type,
        unit,
        handlers,
        list(activities or []),
        matters=list(matters or []),
        stages=list(stages or []),
        place=place,
        to_prove=to_prove,
    )
    return {
        "number": case.number,
        "type": case.case_type,
        "file_retention_years": case.file_retention_years,
        "stages": case.stages,
    }


@operation("case.link")
def link(
    call: Call,
    number: str,
    evidence_ids: list[int] | None = None,
    sessions: list[int] | None = None,
    stage: str | None = None,
) -> list[int]:
    if not evidence_ids and not sessions:
        raise VaultError(N_("name evidence ids or {option}"), option="--session DOCK_ID")
    return cases.link(
        call.vault, number, list(evidence_ids or []), list(sessions or []), stage=stage
    )


@operation("case.unlink")
def unlink(call: Call, number: str, evidence_ids: list[int], reason: str) -> list[int]:
    cases.unlink(call.vault, number, list(evidence_ids), reason)
    return list(evidence_ids)


@operation("case.close")
def close(call: Call, number: str) -> int:
    return cases.close(call.vault, number)


@operation("case.litigation")
def litigation(call: Call, number: str, start: bool, reason: str = "") -> int:
    return cases.litigation(call.vault, number, start, reason)


@operation("case.list")
def list_(
    call: Call, status: str | None = None, limit: int | None = None, offset: int | None = None
) -> list[dict[str, Any]]:
    """Every case (an officer: those he handles); LIMIT, OFFSET: one page of them."""
    choose("--status", status, cases.STATUSES)
    badge = own_badge(call) if call.scope == "own" else None
    with call.vault.session() as session:
        return cases.list_cases(session, status, limit, offset, handled_by=badge)


@operation("case.show")
def show(call: Call, number: str) -> dict[str, Any]:
    number = cases.normalise_number(number)
    if call.scope == "own":
        badge = own_badge(call)
        if not handles_case(call, number):
            raise AccessRefused(
                N_("{who}: officer {badge} is not a handler of case {number}"),
                who=call.name,
                badge=badge,
                number=repr(number),
            )
    with call.vault.session() as session:
        return cases.show_case(session, number)


def _require_officer(call: Call, badge: str) -> None:
    """A camera's keeper is an officer on record (DV-1): a badge typed wrong is refused, not
    made a new officer."""
    with call.vault.session() as session:
        badges = list(session.exec(select(Officer.officer_id).order_by(col(Officer.officer_id))))
    if badge in badges:
        return
    close = nearest(badge, badges, n=3)
    hint = Phrase(N_(" (did you mean {names}?)"), names=either(close)) if close else ""
    raise NotFound(
        N_(
            "no officer with badge {badge} on record{suggestion}: add them first "
            "({command}), or dock a camera of theirs"
        ),
        badge=repr(badge),
        suggestion=hint,
        command=f"evault principal add NAME --role officer --officer {badge}",
    )


@operation("device.assign")
def assign(
    call: Call,
    device_id: str,
    keeper: str,
    note: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    _require_officer(call, keeper)
    ledgers.assign(call.vault, device_id, keeper, note, profile)
    reply: dict[str, Any] = {"device_id": device_id, "keeper": keeper}
    if ledgers.badge_written_by_dock(call.vault, device_id):
        # DV-1: the dock writes the badge into the camera (WriteZFYInfo) when it next docks.
        problem = ledgers.camera_badge_problem(keeper)
        if problem is None:
            reply["camera_badge"] = "written into the camera when it next docks"
        else:  # the keeper is recorded all the same; the camera keeps what it carries
            reply["camera_badge"] = f"cannot be written into the camera: {problem}"
            reply["warning"] = (
                f"the dock cannot write this keeper's badge into camera {device_id}: {problem}"
            )
    return reply


@operation("device.ledger")
def ledger(call: Call, device_id: str | None = None) -> list[dict[str, Any]]:
    return ledgers.ledger(call.vault, device_id)
