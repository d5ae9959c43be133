"""The one policy: which role may do which action, on what scope (AC-1: permissions follow
duties). Every operation of the service API names one action of this table; the dispatcher
decides it here before the operation runs, and registers every refusal (AC-7).

Stdlib only: the thin CLI prints the table (`evault policy`) without importing the vault.

Roles are the principals' staff roles. `system` is the vault's own account (the service
account that owns $EVAULT_HOME, or root): the daemons, timers and maintenance commands run
as it, never a person through a principal. Scopes:

- `all`: any record;
- `own`: an officer's own work: clips he recorded, cases whose handler he is, sessions and
  gaps of his own recording, requests and grants that are his;
- `grant`: a valid grant the caller holds for that very record and action (a case handler
  views his case's footage without one, AC-2); a records keeper hands an outside requester's
  package over only under the grant named with `--grant` (AC-4..AC-6);
- `empty`: only while the vault has no principal at all (bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("officer", "records_keeper", "approver", "legal", "auditor")
SYSTEM = "system"
STAFF_ROLES = ROLES
READERS = ("records_keeper", "approver", "legal", "auditor")


@dataclass(frozen=True)
class Rule:
    action: str
    allow: dict[str, str]  # role (or "system") -> scope
    registers: str | None = None  # "view" when a use is a viewing of footage (AC-7)
    text: str = ""


def _rule(action: str, text: str, registers: str | None = None, **allow: str) -> Rule:
    return Rule(action, dict(allow), registers, text)


def _readers(scope_for_officer: str | None = "own", **more: str) -> dict[str, str]:
    # The vault's own account reads the records' facts anyway (it owns the database): its
    # maintenance and jobs may list them; footage and decisions stay with people.
    allow = {role: "all" for role in (*READERS, SYSTEM)}
    if scope_for_officer:
        allow["officer"] = scope_for_officer
    allow.update(more)
    return allow


_STAFF_GRANT = {role: "grant" for role in STAFF_ROLES}

TABLE: tuple[Rule, ...] = (
    # Docking and ingest: the station's own work.
    _rule("ingest", "seal a camera volume", system="all"),
    _rule("dock.run", "run the docking-station daemon", system="all"),
    _rule("dock.status", "the bays' live state", system="all", records_keeper="all"),
    _rule("dock.udev-rules", "print the udev rules", system="all", records_keeper="all"),
    _rule("device.assign", "appoint a camera's keeper (DV-1)", records_keeper="all"),
    _rule("device.ledger", "a camera's usage ledger (DV-1)", **_readers(None)),
    _rule(
        "device.checkout",
        "hand a camera out, with its pre-use check (DV-3, DV-5)",
        records_keeper="all",
    ),
    _rule("device.return", "take a camera back (DV-5)", records_keeper="all"),
    _rule(
        "device.event",
        "record upkeep, a fault, loss, damage or misuse of a camera (DV-5, DV-6)",
        records_keeper="all",
        approver="all",
        auditor="all",
    ),
    _rule("device.custody", "a camera's custody ledger (DV-5)", **_readers(None)),
    # Finding and checking evidence.
    _rule("evidence.list", "list evidence", **_readers()),
    _rule("evidence.show", "one record's facts", **_readers()),
    _rule(
        "evidence.verify",
        "re-hash sealed objects",
        system="all",
        records_keeper="all",
        auditor="all",
    ),
    _rule(
        "verify",
        "hold every record against the WORM store",
        system="all",
        records_keeper="all",
        auditor="all",
    ),
    _rule(
        "verify.seal-missing",
        "seal records for rows sealed before them",
        system="all",
        records_keeper="all",
    ),
    # Retention (RT-1..RT-4).
    _rule("evidence.classify", "set a retention class", records_keeper="all"),
    _rule("evidence.hold", "place a legal hold", records_keeper="all", legal="all"),
    _rule("evidence.release", "release a legal hold", records_keeper="all", legal="all"),
    _rule(
        "evidence.mark",
        "confidentiality markings (AC-9)",
        records_keeper="all",
        legal="all",
        approver="all",
    ),
    # Redacting a released copy (AC-9, issue 20): records keepers alone. They prepare and
    # hand over every package (经办人), and the work writes derivatives into the store like
    # media.retry; an approver decides whether footage goes out, not what the copy hides,
    # and keeping the two apart is the separation of approving from preparing (AC-3).
    _rule("evidence.redact", "plan and render a redacted copy (AC-9)", records_keeper="all"),
    # Seeing footage (AC-2, AC-3, AC-8): each use registered.
    _rule("evidence.view", "watch a viewing copy", "view", **_STAFF_GRANT),
    _rule("evidence.thumbnail", "a clip's poster frame", "view", **_STAFF_GRANT),
    _rule("evidence.contact-sheet", "a clip's contact sheet", "view", **_STAFF_GRANT),
    _rule("evidence.export", "an evidence package (copy or export)", **_STAFF_GRANT),
    # EV-2: burning the evidence discs is the records keeper's (制作人, Pingdingshan 第16条).
    _rule("evidence.discs", "the two labelled disc images (EV-2)", records_keeper="all"),
    # Cases (RT-3): the handler is named by a records keeper, never by the handler (AC-2).
    _rule("case.create", "file a case and name its handler", records_keeper="all"),
    _rule("case.link", "link evidence to a case", records_keeper="all"),
    _rule("case.unlink", "unlink evidence from a case", records_keeper="all"),
    _rule("case.close", "close a case", records_keeper="all"),
    _rule("case.litigation", "start or end litigation", records_keeper="all", legal="all"),
    _rule("case.list", "list cases", **_readers()),
    _rule("case.show", "one case", **_readers()),
    # Purge (RT-1, RT-5): the timer only draws up lists; a records keeper appraises each
    # item, an approver (never the list's maker nor its marker) signs, and only then does
    # a run delete, exactly the signed no-value items (Pingdingshan 第15条).
    _rule(
        "purge.plan",
        "what may be cleared as of a time (a dry run)",
        system="all",
        records_keeper="all",
        approver="all",
        auditor="all",
    ),
    _rule(
        "purge.draw",
        "draw up a list of what may be cleared (RT-1)",
        system="all",
        records_keeper="all",
    ),
    _rule(
        "purge.lists",
        "purge lists, their marks and outcomes (RT-5)",
        system="all",
        records_keeper="all",
        approver="all",
        legal="all",
        auditor="all",
    ),
    _rule("purge.mark", "appraise a purge list's items (RT-1)", records_keeper="all"),
    _rule("purge.sign", "sign a marked purge list (RT-1)", approver="all"),
    _rule(
        "purge.run", "delete the items of signed purge lists", system="all", records_keeper="all"
    ),
    # Media and store administration.
    _rule("media.run", "run the media worker", system="all"),
    _rule("media.jobs", "the media job queue", system="all", records_keeper="all"),
    _rule("media.retry", "retry dead media jobs", system="all", records_keeper="all"),
    _rule("store.check", "check the WORM store", system="all", records_keeper="all", auditor="all"),
    _rule("store.init", "create the S3 bucket", system="all"),
    _rule("store.drain", "upload the spool", system="all"),
    _rule("store.rebuild-index", "rebuild the database from the WORM store", system="all"),
    # Access requests, decisions and the register (AC-2..AC-8).
    _rule(
        "access.request",
        "file a request (for others: records keeper)",
        **{role: "own" for role in STAFF_ROLES},
    ),
    _rule("access.approve", "approve a request", approver="all"),
    _rule("access.deny", "deny a request", approver="all"),
    _rule("access.revoke", "revoke a grant", approver="all", records_keeper="all"),
    _rule("access.requests", "list requests", **_readers()),
    _rule("access.grants", "list grants", **_readers()),
    _rule("access.show", "one request, as an approver weighs it", **_readers()),
    _rule(
        "access.document",
        "write out a request's sealed document",
        **{role: "all" for role in READERS},
    ),
    _rule("access.log", "read and print the register", **_readers(None)),
    _rule("access.sign", "sign the register's head", system="all"),
    # Principals (AC-1).
    _rule(
        "principal.add",
        "add a principal (the first: bootstrap)",
        records_keeper="all",
        system="empty",
    ),
    _rule("principal.map", "map an OS user to a principal", records_keeper="all"),
    _rule("principal.level", "set an approver's level (AC-0)", records_keeper="all"),
    _rule("principal.disable", "disable a principal", records_keeper="all"),
    _rule("principal.password", "set a web console password (issue 19)", records_keeper="all"),
    _rule("principal.totp", "set or remove a web login's TOTP factor", records_keeper="all"),
    _rule("principal.list", "list principals", **_readers(None)),
    # Units and their aliases (issue 16): what a filter by unit resolves through.
    _rule("unit.add", "register a unit", records_keeper="all"),
    _rule("unit.alias", "give a unit another name", records_keeper="all"),
    _rule("unit.list", "list units and unregistered unit names", **_readers(None, officer="all")),
    # Recording compliance (RC-1..RC-6, IN-1, OV-1, OV-2).
    _rule("compliance.scan", "sessions, gaps, narration", system="all", records_keeper="all"),
    _rule("compliance.late-reason", "explain a late upload", officer="own", records_keeper="all"),
    _rule("compliance.late", "late clips without a reason (IN-1)", **_readers()),
    _rule(
        "compliance.calendar",
        "the working-day calendar",
        **_readers(None, officer="all"),
    ),
    _rule("report.compliance", "the compliance report", **_readers(None)),
    _rule(
        "session.annotate",
        "give an interruption's reason (RC-6)",
        officer="own",
        records_keeper="all",
    ),
    _rule(
        "session.unresumed",
        "a recording not resumed: its report and explanation (RC-3)",
        officer="own",
        records_keeper="all",
    ),
    _rule("session.review", "review a written reason (RC-6)", approver="all"),
    _rule("session.list", "recording sessions (RC-2)", **_readers()),
    _rule("session.gaps", "interruptions that need a reason (RC-3)", **_readers()),
    _rule("stop-record.add", "file a stop record (RC-4)", officer="own", records_keeper="all"),
    _rule("stop-record.approve", "approve a stop record", approver="all"),
    _rule("stop-record.list", "list stop records", **_readers()),
    _rule("review.sample", "draw a spot-check sample (OV-2)", records_keeper="all", auditor="all"),
    _rule("review.record", "record a spot check's result", records_keeper="all", auditor="all"),
    _rule("policy.show", "print this table", **_readers(None, officer="all")),
    _rule(
        "todo",
        "what the caller is expected to act on",
        **{role: "own" if role == "officer" else "all" for role in STAFF_ROLES},
    ),
)

RULES = {rule.action: rule for rule in TABLE}
assert len(RULES) == len(TABLE), "an action is listed twice"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    scope: str | None = None  # the widest scope any of the caller's roles gives
    reason: str = ""
    needs: tuple[str, ...] = ()  # a refusal: the roles that would be let in
    system: bool = False  # a refusal: the vault's service account would be let in


_WIDTH = {"all": 3, "grant": 2, "own": 1, "empty": 0}


def decide(action: str, roles: list[str], system: bool, vault_empty: bool = False) -> Decision:
    """Whether a caller with these roles (and the system account or not) may attempt the
    action, and in which scope; the operation then applies the scope to the records."""
    rule = RULES.get(action)
    if rule is None:
        return Decision(False, reason=f"no such action {action!r} in the policy")
    scopes = [rule.allow[role] for role in roles if role in rule.allow]
    if system and SYSTEM in rule.allow and (rule.allow[SYSTEM] != "empty" or vault_empty):
        scopes.append(rule.allow[SYSTEM])
    if scopes:
        return Decision(True, max(scopes, key=_WIDTH.__getitem__))
    who = [role for role in rule.allow if role != SYSTEM]
    if not who:
        return Decision(
            False,
            reason=f"{rule.text} ({action}) is for the vault's service account",
            system=True,
        )
    needs = f"the {' or '.join(who)} role"
    system_too = rule.allow.get(SYSTEM) == "all"
    if system_too:
        needs += " (or the vault's service account)"
    return Decision(
        False, reason=f"{rule.text} ({action}) needs {needs}", needs=tuple(who), system=system_too
    )


def table_markdown() -> str:
    """docs/ARCHITECTURE.md's table: one row per action, one column per role."""
    columns = (*ROLES, SYSTEM)
    lines = [
        "| action | what | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for rule in TABLE:
        cells = [rule.allow.get(column, "—") for column in columns]
        lines.append(f"| `{rule.action}` | {rule.text} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
