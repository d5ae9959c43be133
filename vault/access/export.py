"""Viewing and exporting evidence under a grant (AC-2, AC-8), each one registered (AC-7).

An export package (EV-1..EV-3) holds the originals bit-exact, their viewing copies, the
written statement, manifest.json and SHA256SUMS, which any receiver checks with
`sha256sum -c SHA256SUMS`. The database lock is held only to decide and to register, never
while bytes are copied; the package is built under a temporary name and renamed when whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from vault.access import iso, policy, register
from vault.access.facts import SUFFIXES, add_recording_formats, package_facts, viewing_copy
from vault.access.principals import current
from vault.access.statement import write_statement
from vault.cases.retention import get_evidence
from vault.context import Vault
from vault.db.models import AccessGrant, AccessRequest, Derivative, Evidence, Principal
from vault.errors import Conflict, StoreError

CHUNK = 8 * 1024 * 1024
STATEMENT = "文字说明材料.pdf"


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
            f"{key} hashes to {digest.hexdigest()}, not its recorded {sha256}: run "
            "`evault evidence verify --all` and restore it before handing it out"
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
        raise Conflict(f"{target} already exists: remove it or choose another --out")
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
        raise Conflict(f"{out} exists and is not an empty folder: choose a new --out")


def export(
    vault: Vault,
    scope_text: str,
    out: Path,
    grant_id: int | None = None,
    discs: bool = False,
    place: str | None = None,
    shown_out: Path | None = None,
) -> ExportResult:
    """Write an evidence package under a grant to copy or export; refused (nothing written,
    the attempt registered) without one. SHOWN_OUT is where the caller receives it (the
    service builds it in its own place): what the register and the answer name."""
    scope = policy.parse_scope(scope_text)
    _check_out(out)
    with (
        register.refusals_registered(vault, "export", what=f"export {scope}"),
        vault.session() as session,
    ):
        caller = current(vault, session)
        evidence = policy.scope_evidence(session, scope)
        now = vault.clock.now()
        grant = policy.find_grant(session, caller, evidence, ("export", "copy"), now, grant_id)
        basis = _basis(session, grant)
        facts = package_facts(vault, session, scope, evidence, caller, grant)
        facts["place"] = place
        sources = _sources(session, evidence)
    assert grant.id is not None
    shown = shown_out or out
    result = ExportResult(shown, grant.action, grant.id)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        _write_package(vault, work, facts, sources, result)
        if discs:
            images = _write_discs(work, facts, grant.id)
            result.images = [shown / image.relative_to(work) for image in images]
        # AC-7: registered before the package is in place; a crash in between leaves only
        # the hidden partial folder, never an unregistered package.
        with vault.session() as session:
            register.append(
                vault,
                session,
                grant.action,
                who=facts["requester"],
                unit=facts["requester_unit"],
                documents=facts["documents"],
                what=f"{grant.action} {scope}",
                handled_by=caller.name,
                detail={
                    "out": str(shown),
                    "place": place,
                    "sha256sums": _sha256_file(work / "SHA256SUMS"),
                    "evidence": [e.id for e in evidence],
                    "images": [p.name for p in result.images],
                },
                **basis,
            )
            session.commit()
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return result


def _write_discs(work: Path, facts: dict[str, Any], grant_id: int) -> list[Path]:
    """EV-2: two labelled disc images of the package, in its iso/ folder."""
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
    )


def _sources(session: Session, evidence: list[Evidence]) -> dict[int, list[tuple[str, str]]]:
    """Per record: (store key, sha256) of its original and of its viewing copy, if any."""
    found: dict[int, list[tuple[str, str]]] = {}
    for record in evidence:
        assert record.id is not None
        found[record.id] = [(record.storage_key, record.sha256)]
        if copy := viewing_copy(session, record.id):
            found[record.id].append((copy.storage_key, copy.sha256))
    return found


def _write_package(
    vault: Vault,
    work: Path,
    facts: dict[str, Any],
    sources: dict[int, list[tuple[str, str]]],
    result: ExportResult,
) -> None:
    for item in facts["evidence"]:
        paths = [item["original"]] + ([item["viewing"]["path"]] if item["viewing"] else [])
        for rel, (key, sha256) in zip(paths, sources[item["evidence_id"]], strict=True):
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
