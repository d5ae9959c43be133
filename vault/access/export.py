"""Viewing and exporting evidence under a grant (AC-2, AC-8), each one registered (AC-7).

An export package (EV-1..EV-3) holds the originals bit-exact, their viewing copies, the
written statement, manifest.json and SHA256SUMS, which any receiver checks with
`sha256sum -c SHA256SUMS`. A record that goes out redacted (AC-9: privacy-marked, to a
party, a lawyer or another region; or asked for) is there only as its redacted copy, the
render of its newest redaction plan, and the package and its register entry name the plan.
The database lock is held only to decide and to register, never while bytes are copied. The
package is built in a hidden folder, renamed into place when whole, then registered (AC-7);
a journal under $EVAULT_HOME/tmp/exports, written before the rename, lets the next export
register a package that a crash left delivered but unregistered.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from vault.access import iso, policy, register
from vault.access.facts import (
    SUFFIXES,
    add_recording_formats,
    package_facts,
    redactions,
    register_redactions,
    viewing_copy,
)
from vault.access.principals import current
from vault.access.requests import reader_detail
from vault.access.statement import write_statement
from vault.cases.retention import get_evidence, keep_as_evidence
from vault.config import Settings
from vault.context import Vault
from vault.db.models import (
    AccessGrant,
    AccessRequest,
    Derivative,
    Evidence,
    Principal,
    RegisterEntry,
)
from vault.errors import Conflict, StoreError, UsageError
from vault.faults import checkpoint
from vault.i18n import N_
from vault.media.redact import Release
from vault.store.durable import fsync_dir, make_dirs

log = logging.getLogger(__name__)
CHUNK = 8 * 1024 * 1024
STATEMENT = "文字说明材料.pdf"
JOURNAL_FORMAT = "evidence-vault-pending-export/1"


def _basis(session: Session, grant: AccessGrant | None) -> dict[str, Any]:
    """Register fields that say on whose approval (AC-7)."""
    if grant is None:
        return {"reason": "case handler's own case (AC-2)"}
    request = session.get_one(AccessRequest, grant.request_id)
    return {
        "reason": request.reason,
        "approver": session.get_one(Principal, grant.granted_by_id).name,
        "grant_id": grant.id,
        "request_id": grant.request_id,
    }


def copy_from_store(vault: Vault, key: str, sha256: str, target: Path) -> int:
    """Copy a sealed object, re-hashing it: a damaged object is never handed out as good."""
    digest, size = hashlib.sha256(), 0
    with vault.store.open(key) as source, target.open("xb") as sink:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            sink.write(chunk)
            size += len(chunk)
    if digest.hexdigest() != sha256:
        target.unlink()
        raise StoreError(
            N_(
                "{key} hashes to {digest}, not its recorded {sha256}: run `{command}` and "
                "restore it before handing it out"
            ),
            key=key,
            digest=digest.hexdigest(),
            sha256=sha256,
            command="evault evidence verify --all",
        )
    return size


def authorise_view(
    vault: Vault, session: Session, evidence: Evidence, keep: bool = False
) -> tuple[Principal, dict[str, Any]]:
    """Who views and on whose approval: the case handler's own case (AC-2), else a valid
    view grant of the caller's own (AC-3); a copy that stays needs a copy grant."""
    caller = current(vault, session)
    grant = None
    now = vault.clock.now()
    if keep:
        grant = policy.find_grant(session, caller, [evidence], ("copy", "export"), now)
    elif not policy.handles(session, caller, evidence.id or 0):
        grant = policy.find_grant(session, caller, [evidence], ("view",), now)
    return caller, _basis(session, grant)


def register_view(
    vault: Vault, caller: Principal, what: str, basis: dict[str, Any], **detail: Any
) -> None:
    with vault.session() as session:
        register.append(
            vault,
            session,
            "copy" if detail.get("kept") else "view",
            who=caller.name,
            unit=caller.unit,
            what=what,
            handled_by=caller.name,
            detail=detail,
            **basis,
        )
        session.commit()


def view(vault: Vault, evidence_id: int, target_dir: Path, keep: bool = False) -> Path:
    """A viewing copy (or the original when none was made) for this principal to watch,
    written into TARGET_DIR; KEEP: the caller keeps it (a copy, needing a copy grant)."""
    what = f"view evidence:{evidence_id}"
    with register.refusals_registered(vault, "view", what=what), vault.session() as session:
        evidence = get_evidence(session, evidence_id)
        caller, basis = authorise_view(vault, session, evidence, keep)
        copy = viewing_copy(session, evidence_id)
    key, sha256 = (
        (copy.storage_key, copy.sha256) if copy else (evidence.storage_key, evidence.sha256)
    )
    target_dir.mkdir(parents=True, exist_ok=True)
    suffix = SUFFIXES.get(copy.media_type, ".bin") if copy else Path(evidence.file_name).suffix
    target = target_dir / f"evidence-{evidence_id}{suffix}"
    if target.exists():
        raise Conflict(
            N_("{path} already exists: remove it or choose another {option}"),
            path=target,
            option="--out",
        )
    copy_from_store(vault, key, sha256, target)
    target.chmod(0o400)
    try:
        register_view(
            vault,
            caller,
            what,
            basis,
            file="viewing" if copy else "original",
            sha256=sha256,
            **({"kept": True} if keep else {}),
        )
    except BaseException:
        target.unlink(missing_ok=True)  # AC-7: no viewing copy without its register entry
        raise
    return target


def view_derivative(vault: Vault, evidence_id: int, kind: str, out: Path) -> Derivative:
    """A poster or contact sheet: footage too, so viewed under the same rule and
    registered like a view (AC-2, AC-3, AC-7)."""
    from vault.media.derivatives import write_out

    what = f"view evidence:{evidence_id} {kind}"
    with register.refusals_registered(vault, "view", what=what), vault.session() as session:
        evidence = get_evidence(session, evidence_id)
        caller, basis = authorise_view(vault, session, evidence)
    row = write_out(vault, evidence_id, kind, out)
    try:
        register_view(vault, caller, what, basis, file=kind, sha256=row.sha256)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return row


@dataclass
class ExportResult:
    out: Path
    action: str
    grant_id: int
    files: list[dict[str, Any]] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "action": self.action,
            "grant_id": self.grant_id,
            "files": self.files,
            "images": [str(p) for p in self.images],
        }


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Conflict(
            N_("{path} exists and is not an empty folder: choose a new {option}"),
            path=out,
            option="--out",
        )


def _inside(path: Path, root: Path) -> bool:
    """PATH lies in ROOT, as written or once the symlinks of its existing part resolve."""
    lexical, real = Path(os.path.abspath(path)), path.resolve()
    roots = {Path(os.path.abspath(root)), root.resolve()}
    return any(p.is_relative_to(r) for p in (lexical, real) for r in roots)


def _check_place(vault: Vault, out: Path, shown_out: Path | None) -> None:
    """A package never lands in the vault's own folders (its home, the store, the spool),
    nor through a symlink. The service builds in its scratch folder under $EVAULT_HOME/tmp
    and hands the package to SHOWN_OUT: that is then the place the caller chose."""
    settings = vault.settings
    records = {"store": settings.store_path, "spool": settings.spool_path}
    shown = shown_out or out
    for path in dict.fromkeys((shown, out)):
        if path.is_symlink():
            raise Conflict(
                N_("{option} {path} is a symbolic link: name a real folder instead"),
                option="--out",
                path=path,
            )
    places = {"home": settings.home, **records}
    for name, root in places.items():
        if _inside(shown, root):
            raise Conflict(
                N_(
                    "{option} {path} lies inside the vault's {name} {root}: choose a folder "
                    "outside it"
                ),
                option="--out",
                path=shown,
                name=name,
                root=root,
            )
    if shown_out is not None:  # the service's own build place: only its scratch
        for name, root in records.items():
            if _inside(out, root):
                raise Conflict(f"{out} lies inside the vault's {name} {root}: not a build place")
        if _inside(out, settings.home) and not _inside(out, settings.home / "tmp"):
            raise Conflict(
                f"{out} lies inside the vault's home outside its tmp/: not a build place"
            )


def _journal_dir(vault: Vault) -> Path:
    return vault.settings.home / "tmp" / "exports"


def _write_journal(vault: Vault, pending: dict[str, Any]) -> tuple[Path, int]:
    """The pending export, durable before the package is renamed into place; its file stays
    locked (flock) while this export runs, so no other export takes it for a crash's."""
    folder = _journal_dir(vault)
    make_dirs(folder)
    temp = folder / f".{pending['export_id']}.tmp"
    final = folder / f"{pending['export_id']}.json"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with open(fd, "wb", closefd=False) as handle:
            handle.write(json.dumps(pending, ensure_ascii=False).encode("utf-8"))
        os.fsync(fd)
        temp.rename(final)
        fsync_dir(folder)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    return final, fd


def _register_export(vault: Vault, action: str, fields: dict[str, Any]) -> None:
    with vault.session() as session:
        register.append(vault, session, action, **fields)
        session.commit()


def _registered_already(vault: Vault, pending: dict[str, Any]) -> bool:
    """A crash after the commit and before the journal went: the entry is there."""
    fields = pending["entry"]
    with vault.session() as session:
        found = session.exec(
            select(RegisterEntry.detail).where(
                RegisterEntry.event == pending["action"],
                col(RegisterEntry.what) == fields["what"],
            )
        )
        return any((d or {}).get("export_id") == pending["export_id"] for d in found)


def _settle(vault: Vault, pending: dict[str, Any]) -> str:
    """What a journal left by a crash comes to: the package registered (it was delivered
    whole), or the journal dropped (nothing was delivered, or it was registered already)."""
    out, shown, work = Path(pending["out"]), Path(pending["shown"]), Path(pending["work"])
    if work.is_dir():
        shutil.rmtree(work, ignore_errors=True)  # the crash came before the rename
    if _registered_already(vault, pending):
        _used_as_evidence(vault, pending)  # the crash may have come before it
        return "already-registered"
    sums = out / "SHA256SUMS"
    if not sums.is_file() or _sha256_file(sums) != pending["sha256sums"]:
        return "dropped"
    if out != shown:  # built by the service, which died before handing it over
        shutil.rmtree(out, ignore_errors=True)
        return "removed"
    fields = pending["entry"]
    detail = fields["detail"] | {"recovered": True}
    _register_export(vault, pending["action"], fields | {"detail": detail})
    _used_as_evidence(vault, pending)
    return "registered"


def _used_as_evidence(vault: Vault, pending: dict[str, Any]) -> None:
    """RT-3: every record of a delivered package is kept at least long-term. Every export
    package counts as evidence use: it is the form the documents give evidence (the written
    statement, 文字说明材料, and the disc copies: Gansu-Eco 第44条, Xiangxi 第16条, Gansu-Radio
    第23条), handed over to be relied on (a court, a procuratorate, a party who may sue); a
    viewing, even one kept, carries no statement and is not (view(), view_derivative())."""
    detail = pending["entry"]["detail"]
    keep_as_evidence(
        vault,
        list(detail["evidence"]),
        f"used as evidence: {pending['action']} under grant {pending['grant_id']} (RT-3)",
        export_id=pending["export_id"],
        grant_id=pending["grant_id"],
    )


def _places(facts: dict[str, Any], place: str | None) -> None:
    """EV-1: each record's place, from its case, else --place; none known is refused."""
    given = (place or "").strip() or None
    unknown = []
    for item in facts["evidence"]:
        item["place"] = item.get("place") or given
        if not item["place"]:
            unknown.append(str(item["evidence_id"]))
    if unknown:
        raise UsageError(
            N_(
                "the place of recording of evidence {ids} is not known (its case names none): "
                "give it with {option}"
            ),
            ids=", ".join(unknown),
            option="--place PLACE",
        )
    places = list(dict.fromkeys(item["place"] for item in facts["evidence"]))
    facts["place"] = "；".join(places)


def _read_journal(fd: int) -> dict[str, Any] | None:
    """The journal's content; None when torn or none (then it never preceded a rename)."""
    with open(fd, "rb", closefd=False) as handle:
        text = handle.read()
    try:
        pending = json.loads(text)
    except ValueError:
        return None
    keys = ("export_id", "out", "shown", "work", "action", "sha256sums", "entry")
    if not isinstance(pending, dict) or pending.get("format") != JOURNAL_FORMAT:
        return None
    return pending if all(key in pending for key in keys) else None


def _recover_one(vault: Vault, path: Path) -> dict[str, Any] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                return None
        except (BlockingIOError, FileNotFoundError):
            return None  # an export in flight holds it, or it was settled meanwhile
        pending = _read_journal(fd)
        outcome = _settle(vault, pending) if pending else "dropped"
        path.unlink()
        pending = pending or {}
        done = {"journal": path.name, "outcome": outcome} | {
            key: pending.get(key) for key in ("shown", "grant_id", "action", "scope")
        }
        log.warning("pending export settled: %s", done)
        return done
    finally:
        os.close(fd)


def recover_pending_exports(vault: Vault) -> list[dict[str, Any]]:
    """Settle the journals that crashed exports left: register a package that was delivered
    whole (with detail.recovered), drop the rest (AC-7). What was done, one dict each."""
    folder = _journal_dir(vault)
    if not folder.is_dir():
        return []
    journals = sorted(folder.glob("*.json")) + sorted(folder.glob(".*.tmp"))
    done = [_recover_one(vault, path) for path in journals]
    return [d for d in done if d is not None]


def export(
    vault: Vault,
    scope_text: str,
    out: Path,
    grant_id: int | None = None,
    discs: bool = False,
    place: str | None = None,
    shown_out: Path | None = None,
    redacted: bool = False,
) -> ExportResult:
    """Write an evidence package under a grant to copy or export; refused (nothing written,
    the attempt registered) without one. SHOWN_OUT is where the caller receives it (the
    service builds it in its own place): what the register and the answer name. REDACTED:
    every record as its redacted copy (AC-9; privacy-marked ones to a party, a lawyer or
    another region go so anyway)."""
    recover_pending_exports(vault)
    scope = policy.parse_scope(scope_text)
    _check_out(out)
    _check_place(vault, out, shown_out)
    with (
        register.refusals_registered(vault, "export", what=f"export {scope}"),
        vault.session() as session,
    ):
        caller = current(vault, session)
        evidence = policy.scope_evidence(session, scope)
        now = vault.clock.now()
        grant = policy.find_grant(session, caller, evidence, ("export", "copy"), now, grant_id)
        basis = _basis(session, grant)
        reader = reader_detail(session.get(AccessRequest, grant.request_id))  # AC-4: 查阅人
        grantee = session.get_one(Principal, grant.grantee_id)
        hidden = redactions(session, evidence, grantee, grant.action, redacted)
        facts = package_facts(vault, session, scope, evidence, caller, grant, hidden)
        _places(facts, place)
        sources = _sources(session, evidence, hidden)
    assert grant.id is not None
    shown = shown_out or out
    result = ExportResult(shown, grant.action, grant.id)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        _write_package(vault, work, facts, sources, result)
        if discs:
            images = _write_discs(work, facts, grant.id, vault.settings)
            result.images = [shown / image.relative_to(work) for image in images]
        token = uuid.uuid4().hex
        sha256sums = _sha256_file(work / "SHA256SUMS")
        fields: dict[str, Any] = {
            "who": facts["requester"],
            "unit": facts["requester_unit"],
            "documents": facts["documents"],
            "what": f"{grant.action} {scope}",
            "handled_by": caller.name,
            "detail": {
                "out": str(shown),
                "place": facts["place"],
                "sha256sums": sha256sums,
                "evidence": [e.id for e in evidence],
                "images": [p.name for p in result.images],
                "export_id": token,
                **reader,
                # AC-9: what was hidden, and by whose plan (the plan is sealed in the store).
                **({"redaction": register_redactions(hidden)} if hidden else {}),
            },
            **basis,
        }
        pending = {
            "format": JOURNAL_FORMAT,
            "export_id": token,
            "out": str(out),
            "shown": str(shown),
            "work": str(work),
            "grant_id": grant.id,
            "action": grant.action,
            "scope": scope_text,
            "sha256sums": sha256sums,
            "entry": fields,
        }
        journal, lock = _write_journal(vault, pending)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        _place(work, out, journal)
        try:
            fsync_dir(out.parent)
            checkpoint("export.placed")
            _register_export(vault, grant.action, fields)
        except Exception:
            # AC-7: nothing delivered without its entry. A crash here (no exception
            # handled) leaves the journal: the next export registers the package.
            shutil.rmtree(out, ignore_errors=True)
            journal.unlink(missing_ok=True)
            raise
        # Delivered and registered. A crash or failure here leaves the journal, and the
        # next export's recovery makes its records long-term (RT-3).
        checkpoint("export.registered")
        _used_as_evidence(vault, pending)
        journal.unlink(missing_ok=True)
    finally:
        os.close(lock)
    return result


def _place(work: Path, out: Path, journal: Path) -> None:
    """Rename the whole package into place; undone (journal too) if that fails."""
    try:
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        if work.is_dir():  # not renamed: nothing delivered
            shutil.rmtree(work, ignore_errors=True)
            journal.unlink(missing_ok=True)
        raise


def _write_discs(
    work: Path, facts: dict[str, Any], grant_id: int, settings: Settings
) -> list[Path]:
    """EV-2: two labelled disc images of the package, in its iso/ folder; 制作单位 is the
    bureau (access.bureau_name) with the unit."""
    case = facts["case"]
    ids = ", ".join(str(e["evidence_id"]) for e in facts["evidence"])
    label = f"{case['name']} {case['number']}" if case else f"执法记录仪音像资料（证据 {ids}）"
    return iso.write_images(
        work,
        work / "iso",
        f"EVAULT_G{grant_id}",
        facts["unit"] or "",
        facts["exported_by"],
        facts["created_at_local"][:10],
        label,
        bureau=settings.access.bureau_name,
        language=settings.language,
    )


def _sources(
    session: Session, evidence: list[Evidence], hidden: dict[int, Release]
) -> dict[int, list[tuple[str, str]]]:
    """Per record: (store key, sha256) of its original and of its viewing copy, if any; of
    a record that goes out redacted, of its redacted copy alone."""
    found: dict[int, list[tuple[str, str]]] = {}
    for record in evidence:
        assert record.id is not None
        if (release := hidden.get(record.id)) is not None:
            assert release.render is not None
            found[record.id] = [(release.render.storage_key, release.render.sha256)]
            continue
        found[record.id] = [(record.storage_key, record.sha256)]
        if copy := viewing_copy(session, record.id):
            found[record.id].append((copy.storage_key, copy.sha256))
    return found


def _paths(item: dict[str, Any]) -> list[str]:
    """The package's files of one record, in the order of its sources."""
    if item.get("redacted"):
        return [item["redacted"]["path"]]
    return [item["original"]] + ([item["viewing"]["path"]] if item["viewing"] else [])


def _write_package(
    vault: Vault,
    work: Path,
    facts: dict[str, Any],
    sources: dict[int, list[tuple[str, str]]],
    result: ExportResult,
) -> None:
    for item in facts["evidence"]:
        for rel, (key, sha256) in zip(_paths(item), sources[item["evidence_id"]], strict=True):
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            size = copy_from_store(vault, key, sha256, work / rel)
            result.files.append({"path": rel, "sha256": sha256, "size": size})
    add_recording_formats(work, facts)
    write_statement(vault.settings, facts, work / STATEMENT)
    result.files.append(
        {
            "path": STATEMENT,
            "sha256": _sha256_file(work / STATEMENT),
            "size": (work / STATEMENT).stat().st_size,
        }
    )
    facts["files"] = result.files
    manifest = work / "manifest.json"
    manifest.write_text(json.dumps(facts, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    listed = [*result.files, {"path": "manifest.json", "sha256": _sha256_file(manifest)}]
    sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in listed)
    (work / "SHA256SUMS").write_text(sums, encoding="utf-8")
    for path in work.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
