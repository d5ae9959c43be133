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
from vault.db.engine import lock_for_transaction
from vault.db.models import Principal, RegisterEntry, RegisterSignature
from vault.errors import AccessRefused
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
    """Sign the current head (for a service account's timer when the CLI cannot sign)."""
    with vault.session() as session:
        head = session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())).first()
        if head is None:
            return None
        if sign_head(vault, session, head) is None:
            raise AccessRefused(
                f"cannot read the register signing key {signing.key_path(vault.settings)}; "
                "run this as the vault's service account"
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
                mapped = select(Principal.name).where(Principal.os_user == vault.user)
                fields["handled_by"] = session.exec(mapped).first()
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

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, seq: int | None, reason: str) -> None:
        self.problems.append({"seq": seq, "reason": reason})

    def to_json(self) -> dict[str, Any]:
        first = self.problems[0] if self.problems else None
        return {
            "ok": self.ok,
            "entries": self.entries,
            "signed_through": self.signed_seq,
            "key_id": self.key_id,
            "first_bad": first,
            "problems": self.problems,
        }


def _check_links(rows: list[RegisterEntry], report: ChainReport) -> None:
    prev_hash, prev_id, prev_seq = GENESIS, 0, 0
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
    vault: Vault, session: Session, rows: list[RegisterEntry], report: ChainReport
) -> None:
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
        return
    report.key_id = signing.key_id(public)
    heads = [(s.seq, s.head_hash, s.signed_at, s.signature, "signature") for s in sigs]
    if head is not None:
        heads.append((head.seq, head.head_hash, head.signed_at, head.signature, "head file"))
    for seq, head_hash, signed_at, signature, source in heads:
        if not signing.signature_ok(public, seq, head_hash, signed_at, signature):
            report.add(
                seq, f"{source} for entry {seq} does not verify with key {report.key_id[:16]}"
            )
        elif seq not in by_seq:
            report.add(seq, f"entry {seq} is signed ({source}) but missing: deleted")
        elif by_seq[seq].hash != head_hash:
            report.add(seq, f"entry {seq} differs from the one signed ({source})")
        else:
            report.signed_seq = max(report.signed_seq, seq)
    unsigned = [row.seq for row in rows if row.seq > report.signed_seq]
    if len(unsigned) >= vault.settings.access.sign_every:
        report.add(
            unsigned[0],
            f"entries {unsigned[0]}..{unsigned[-1]} are covered by no signature "
            "(appended without the key, or forged); `evault access sign` as the service",
        )


def verify(vault: Vault) -> ChainReport:
    """Check the whole register; problems are listed in order, the first bad entry first."""
    report = ChainReport()
    with vault.session() as session:
        rows = list(session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq))))
        report.entries = len(rows)
        _check_links(rows, report)
        _check_signatures(vault, session, rows, report)
    report.problems.sort(key=lambda p: (p["seq"] is not None, p["seq"] or 0))
    return report


def entries(
    session: Session, start: datetime | None = None, end: datetime | None = None
) -> list[RegisterEntry]:
    query = select(RegisterEntry).order_by(col(RegisterEntry.seq))
    if start:
        query = query.where(col(RegisterEntry.at) >= start)
    if end:
        query = query.where(col(RegisterEntry.at) < end)
    return list(session.exec(query))


def entry_json(entry: RegisterEntry) -> dict[str, Any]:
    """The entry as printed and exported: its shown hashed fields, then the display-only."""
    shown = [column for column in HASHED if column.shown]
    view = {column.attr: column.render(getattr(entry, column.attr)) for column in shown}
    return view | {name: getattr(entry, name) for name in SHOWN_ONLY}
