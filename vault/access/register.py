"""The access register (查阅登记簿, AC-7): every request, decision, view, copy, export,
revocation and refusal, as an append-only hash chain whose head is signed.

Each entry's hash covers its sequence number, its predecessor's hash and all its fields, so
an edited entry no longer hashes, a deleted or inserted one breaks the sequence and the
links, and a swap of two rows shows both ways. A tail cut off, or forged entries appended by
someone who recomputed the hashes, is caught by the Ed25519 signature over the head (the key
is outside the database) and by the `.head` file beside the key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, col, select

from vault.access import signing
from vault.context import Vault
from vault.db import audit
from vault.db.engine import lock_for_transaction
from vault.db.models import RegisterEntry, RegisterSignature
from vault.errors import AccessRefused, RegisterTampered
from vault.i18n import N_
from vault.sealing import anchors
from vault.sealing.anchors import Anchor
from vault.timeutil import iso

log = logging.getLogger(__name__)
GENESIS = "0" * 64
EVENTS = (
    "request",
    "approve",
    "deny",
    "revoke",
    "view",
    "copy",
    "export",
    "refused",
    "principal",
    "mark",
    "rebuilt",  # the first entry after `evault store rebuild-index` (issue 15)
)


def _as_is(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Hashed:
    """One field the entry's hash covers. `key` is its name in the hash body: fixed for
    good, since renaming it changes the hash of every entry ever written."""

    key: str
    attr: str  # the RegisterEntry attribute; also the field's name in the JSON view
    render: Callable[[Any], Any] = _as_is
    shown: bool = True  # in the JSON view (entry_json)


# The one declaration of what an entry's hash covers; the hash body and the JSON view are
# both derived from it. In the JSON view's order (the hash body sorts its keys).
HASHED: tuple[Hashed, ...] = (
    Hashed("seq", "seq"),
    Hashed("prev", "prev_hash", shown=False),  # the link to the predecessor
    Hashed("at", "at", iso),
    Hashed("event", "event"),
    Hashed("who", "who"),
    Hashed("unit", "unit"),
    Hashed("documents", "documents"),
    Hashed("what", "what"),
    Hashed("reason", "reason"),
    Hashed("approver", "approver"),
    Hashed("handled_by", "handled_by"),
    Hashed("os_user", "os_user"),
    Hashed("station", "station_id"),
    Hashed("request_id", "request_id"),
    Hashed("grant_id", "grant_id"),
    Hashed("detail", "detail"),
)
# Display only, after the hashed fields in the JSON view: not covered by the hash.
SHOWN_ONLY: tuple[str, ...] = ("hash",)


def hash_body(prev_hash: str, entry: RegisterEntry) -> dict[str, Any]:
    """What the hash covers, with `prev` the given predecessor's hash."""
    values = {column.attr: column.render(getattr(entry, column.attr)) for column in HASHED}
    values["prev_hash"] = prev_hash
    return {column.key: values[column.attr] for column in HASHED}


def entry_hash(prev_hash: str, entry: RegisterEntry) -> str:
    body = hash_body(prev_hash, entry)
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(vault: Vault, session: Session, event_name: str, **fields: Any) -> RegisterEntry:
    """Add an entry inside the caller's transaction; sign the head when it is due."""
    assert event_name in EVENTS, event_name
    lock_for_transaction(session, "access_register")  # one appender at a time (PostgreSQL)
    last = session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())).first()
    entry = RegisterEntry(
        seq=(last.seq + 1) if last else 1,
        at=vault.clock.now(),
        station_id=vault.settings.station_id,
        os_user=vault.user,
        event=event_name,
        prev_hash=last.hash if last else GENESIS,
        hash="",
        **fields,
    )
    entry.hash = entry_hash(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    audit.note_head(session, "register", entry, False)
    _sign_if_due(vault, session, entry)
    return entry


def _sign_if_due(vault: Vault, session: Session, entry: RegisterEntry) -> None:
    last = session.exec(
        select(RegisterSignature).order_by(col(RegisterSignature.seq).desc())
    ).first()
    if entry.seq - (last.seq if last else 0) < vault.settings.access.sign_every:
        return
    sign_head(vault, session, entry)


def sign_head(vault: Vault, session: Session, head: RegisterEntry) -> RegisterSignature | None:
    """Sign the given head; None when this process cannot read the key."""
    path = signing.key_path(vault.settings)
    key = signing.load_private_key(path, create=True)
    if key is None:
        return None
    now = vault.clock.now()
    signature = key.sign(signing.head_message(head.seq, head.hash, now)).hex()
    row = RegisterSignature(
        seq=head.seq,
        head_hash=head.hash,
        signed_at=now,
        key_id=signing.key_id(key.public_key()),
        signature=signature,
    )
    session.add(row)
    audit.note_head(session, "register", head, True)  # every signing is anchored too
    signed = signing.SignedHead(head.seq, head.hash, now, signature)
    # The head file is outside the database: write it only once the entry is committed.
    event.listen(session, "after_commit", lambda _s: _write_head(path, signed), once=True)
    return row


def _write_head(path: Path, signed: signing.SignedHead) -> None:
    """After the commit the act is done: a head file that cannot be written is reported,
    not raised (the signature row in the database still holds it; `--verify` checks both)."""
    try:
        signing.write_head(path, signed)
    except OSError as exc:
        log.warning("register head file not written: %s", exc)


def sign_now(vault: Vault) -> int | None:
    """Sign the current head (for a service account's timer when the CLI cannot sign).
    Refused when the register does not hold against its anchors and signatures: a signature
    over a cut, wiped or rewritten register would vouch for the forgery (issue 15)."""
    held = anchors.read_all(vault.store, "register")  # first: anchors name committed heads
    with vault.session() as session:
        lock_for_transaction(session, "access_register")  # the head checked is the one signed
        rows = list(session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq))))
        check = ChainReport()
        base = _rebuilt_from(rows, held)
        _check_links(rows, check, base)
        if signing.load_public_key(signing.key_path(vault.settings)) is not None:
            _check_signatures(vault, session, rows, check, base)
        _check_anchors(rows, held, base, check)
        if check.problems:
            first = min(check.problems, key=lambda p: (p["seq"] is not None, p["seq"] or 0))
            where = f"entry {first['seq']}: " if first["seq"] is not None else ""
            raise RegisterTampered(
                f"not signing a register that does not hold: {where}{first['reason']} "
                "(`evault access log --verify` lists every problem)"
            )
        if not rows:
            return None
        head = rows[-1]
        if sign_head(vault, session, head) is None:
            raise AccessRefused(
                N_(
                    "cannot read the register signing key {path}; run this as the vault's "
                    "service account"
                ),
                path=signing.key_path(vault.settings),
            )
        session.commit()
        return head.seq


@contextmanager
def refusals_registered(vault: Vault, attempt: str, **fields: Any) -> Iterator[None]:
    """Register an AccessRefused raised inside (a failed attempt, AC-7), then let it go on.
    The refused work's own transaction is rolled back first; the entry gets its own."""
    try:
        yield
    except AccessRefused as exc:
        with vault.session() as session:
            detail = {"attempt": attempt, "refusal": str(exc)}
            if "handled_by" not in fields:
                acting = vault.acting_principal(session)
                fields["handled_by"] = acting.name if acting else None
            append(vault, session, "refused", detail=detail, **fields)
            session.commit()
        exc.registered = True  # type: ignore[attr-defined]  # the service API: not twice
        raise


@dataclass
class ChainReport:
    entries: int = 0
    signed_seq: int = 0
    key_id: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    # Not tampering, but not yet as safe as it will be: entries anchored, not yet signed.
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, seq: int | None, reason: str) -> None:
        self.problems.append({"seq": seq, "reason": reason})

    def warn(self, seq: int | None, reason: str) -> None:
        self.warnings.append({"seq": seq, "reason": reason})

    def to_json(self) -> dict[str, Any]:
        first = self.problems[0] if self.problems else None
        return {
            "ok": self.ok,
            "entries": self.entries,
            "signed_through": self.signed_seq,
            "key_id": self.key_id,
            "first_bad": first,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def _rebuilt_from(rows: list[RegisterEntry], held: list[Anchor]) -> Anchor | None:
    """The anchor a rebuilt register starts from (`evault store rebuild-index`): its first
    entry follows an anchored head, not GENESIS. None for a register that starts at 1."""
    if not rows or rows[0].prev_hash == GENESIS:
        return None
    first = rows[0]
    return next((a for a in held if a.hash == first.prev_hash and a.seq + 1 == first.seq), None)


def _check_links(
    rows: list[RegisterEntry], report: ChainReport, base: Anchor | None = None
) -> None:
    prev_hash, prev_id, prev_seq = (base.hash, 0, base.seq) if base else (GENESIS, 0, 0)
    for row in rows:
        assert row.id is not None
        if row.seq != prev_seq + 1:
            report.add(row.seq, f"expected entry {prev_seq + 1} here: entries deleted or inserted")
        if row.prev_hash != prev_hash:
            report.add(row.seq, "does not follow the entry before it (deleted, inserted or moved)")
        if entry_hash(row.prev_hash, row) != row.hash:
            report.add(row.seq, "content does not match its hash (edited)")
        if row.id <= prev_id:
            report.add(row.seq, "stored out of order (rows swapped or re-inserted)")
        prev_hash, prev_id, prev_seq = row.hash, row.id, row.seq


def _check_signatures(
    vault: Vault,
    session: Session,
    rows: list[RegisterEntry],
    report: ChainReport,
    base: Anchor | None = None,
) -> bool:
    """Every signature row and the head file against the key and the entries; False when
    there is no public key to check them with."""
    path = signing.key_path(vault.settings)
    public = signing.load_public_key(path)
    by_seq = {row.seq: row for row in rows}
    sigs = list(session.exec(select(RegisterSignature).order_by(col(RegisterSignature.seq))))
    head = signing.read_head(path)
    if public is None:
        if rows or sigs:
            report.add(
                None, f"no public key at {signing.public_path(path)}: cannot check signatures"
            )
        return False
    report.key_id = signing.key_id(public)
    heads = [(s.seq, s.head_hash, s.signed_at, s.signature, "signature") for s in sigs]
    if head is not None:
        heads.append((head.seq, head.head_hash, head.signed_at, head.signature, "head file"))
    for seq, head_hash, signed_at, signature, source in heads:
        if not signing.signature_ok(public, seq, head_hash, signed_at, signature):
            report.add(
                seq, f"{source} for entry {seq} does not verify with key {report.key_id[:16]}"
            )
        elif base is not None and seq <= base.seq:
            report.signed_seq = max(report.signed_seq, seq)  # lost before the rebuild
        elif seq not in by_seq:
            report.add(seq, f"entry {seq} is signed ({source}) but missing: deleted")
        elif by_seq[seq].hash != head_hash:
            report.add(seq, f"entry {seq} differs from the one signed ({source})")
        else:
            report.signed_seq = max(report.signed_seq, seq)
    for sig in sigs:  # verified with this very key, yet naming another: the row was edited
        good = signing.signature_ok(public, sig.seq, sig.head_hash, sig.signed_at, sig.signature)
        if good and sig.key_id != report.key_id:
            report.add(sig.seq, f"signature of entry {sig.seq} names another key (edited)")
    return True


def _check_unsigned(
    vault: Vault, rows: list[RegisterEntry], held: list[Anchor], report: ChainReport
) -> None:
    """Entries after the newest signature: those an anchor covers are held by the store
    (a warning: not yet signed); beyond the newest anchor, sign_every of them are a problem
    (appended without the key, or forged)."""
    anchored = held[-1].seq if held else 0
    unsigned = [row.seq for row in rows if row.seq > report.signed_seq]
    covered = [seq for seq in unsigned if seq <= anchored]
    beyond = [seq for seq in unsigned if seq > anchored]
    if covered:
        report.warn(
            covered[0],
            f"entries {covered[0]}..{covered[-1]} are anchored but not yet signed "
            "(the store holds their head); `evault access sign` as the service signs them",
        )
    if len(beyond) >= vault.settings.access.sign_every:
        report.add(
            beyond[0],
            f"entries {beyond[0]}..{beyond[-1]} are covered by no signature "
            "(appended without the key, or forged); `evault access sign` as the service",
        )


def _check_anchors(
    rows: list[RegisterEntry], held: list[Anchor], base: Anchor | None, report: ChainReport
) -> None:
    """Every head the store anchored must still be in the register, with its hash: a cut
    tail, an emptied register and a rewritten stretch show without the signing key."""
    by_seq = {row.seq: row for row in rows}
    last = rows[-1].seq if rows else 0
    if base is not None and rows[0].event == "rebuilt":  # `evault store rebuild-index`
        report.warn(
            base.seq + 1,
            f"entries 1..{base.seq} are not in the database: the register was rebuilt from "
            f"the store's anchor of entry {base.seq} ({iso(base.at)}); they are lost",
        )
    elif base is not None:  # the front cut off, the first entry left following an anchor
        report.add(
            base.seq + 1,
            f"the register starts at entry {base.seq + 1}, after the store's anchor of entry "
            f"{base.seq} ({iso(base.at)}), without a rebuild record: entries were deleted",
        )
    beyond = [a for a in held if a.seq > last]
    if beyond:
        newest = beyond[-1]
        where = f"the register ends at entry {last}" if rows else "the register is empty"
        report.add(
            newest.seq,
            f"{where} but the store anchored entry {newest.seq} on {iso(newest.at)}: "
            "entries were deleted",
        )
    for anchor in held:
        if anchor.seq > last or (base is not None and anchor.seq <= base.seq):
            continue
        row = by_seq.get(anchor.seq)
        if row is None:
            report.add(
                anchor.seq,
                f"entry {anchor.seq}, anchored in the store on {iso(anchor.at)}, is missing: "
                "deleted",
            )
        elif row.hash != anchor.hash:
            report.add(
                anchor.seq,
                f"entry {anchor.seq} differs from the one the store anchored on "
                f"{iso(anchor.at)} (rewritten)",
            )


def verify(vault: Vault) -> ChainReport:
    """Check the whole register: its links, its signatures and the heads the store anchored
    (issue 15); problems are listed in order, the first bad entry first. `evault verify`
    (vault.recovery.chains) reports the same."""
    report = ChainReport()
    # The anchors first: each names a committed head, so the rows read after hold it.
    held = anchors.read_all(vault.store, "register")
    with vault.session() as session:
        rows = list(session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq))))
        report.entries = len(rows)
        base = _rebuilt_from(rows, held)
        _check_links(rows, report, base)
        if _check_signatures(vault, session, rows, report, base):
            _check_unsigned(vault, rows, held, report)
        _check_anchors(rows, held, base, report)
    report.problems.sort(key=lambda p: (p["seq"] is not None, p["seq"] or 0))
    return report


def entries(
    session: Session,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[RegisterEntry]:
    """The entries in seq order (NEWEST_FIRST: reversed), LIMIT of them from OFFSET (a page
    of the web console's register)."""
    order = col(RegisterEntry.seq).desc() if newest_first else col(RegisterEntry.seq)
    query = select(RegisterEntry).order_by(order)
    if start:
        query = query.where(col(RegisterEntry.at) >= start)
    if end:
        query = query.where(col(RegisterEntry.at) < end)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def entry_json(entry: RegisterEntry) -> dict[str, Any]:
    """The entry as printed and exported: its shown hashed fields, then the display-only."""
    shown = [column for column in HASHED if column.shown]
    view = {column.attr: column.render(getattr(entry, column.attr)) for column in shown}
    return view | {name: getattr(entry, name) for name in SHOWN_ONLY}
