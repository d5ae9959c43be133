"""The invariants a fault must never break, checked after every round (issue 9):

- every clip that was on the camera is still on it, byte for byte, or sealed and verified
  in the store with a record of its SHA-256 (and not only in the local spool: IN-2 erases a
  camera only once the S3 copy verified);
- nothing but clips ever leaves the camera, and nothing on it changes;
- no record says a clip was erased while it is still there;
- no evidence row points at a missing or wrong object (`evault evidence verify --all`);
- after recovery: no object without a record (`--orphans`), and the work is done (every
  clip sealed, verified and erased).
Each broken rule is one line in the list returned; an empty list is a clean round.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import col, select

from vault.config import load_settings
from vault.context import Vault
from vault.db.models import Evidence, Sighting

EVAULT = [sys.executable, "-c", "from vault.cli import main; main()"]
CLIP_FOLDERS = ("DCIM/100ANDRO/", "DCIM/101ANDRO/")


@dataclass(frozen=True)
class Record:
    evidence_id: int
    sha256: str
    status: str
    backend: str
    purged: bool


@dataclass
class Findings:
    violations: list[str] = field(default_factory=list)
    sealed: int = 0  # distinct clips sealed and verified in the store
    left: int = 0  # clips still on the cameras

    def add(self, line: str) -> None:
        self.violations.append(line)


def records_of(config: Path) -> tuple[dict[str, Record], set[tuple[str, str]]]:
    """Evidence by SHA-256, and (path, sha256) of every sighting marked erased."""
    vault = Vault(load_settings(config), user="fault-checker")
    try:
        with vault.session() as session:
            rows = session.exec(select(Evidence).order_by(col(Evidence.id))).all()
            evidence = {
                e.sha256: Record(
                    e.id or 0, e.sha256, e.status, e.storage_backend, e.purged_at is not None
                )
                for e in rows
            }
            erased = session.exec(
                select(Sighting.path, Evidence.sha256)
                .join(Evidence, col(Sighting.evidence_id) == Evidence.id)
                .where(col(Sighting.erased_at).is_not(None))
            ).all()
    finally:
        vault.engine.dispose()
    return evidence, {(path, sha) for path, sha in erased}


def run_verify(config: Path, env: Mapping[str, str], orphans: bool) -> dict[str, object]:
    """`evault evidence verify --all [--orphans] --json`, as an operator runs it."""
    argv = [*EVAULT, "evidence", "verify", "--all", "--json", *(["--orphans"] if orphans else [])]
    done = subprocess.run(
        argv,
        env={**env, "EVAULT_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        report: dict[str, object] = json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-400:]}"}
    if done.returncode not in (0, 1):
        report["error"] = f"exit {done.returncode}: {done.stderr.strip()[-400:]}"
    elif (done.returncode == 1) != bool(report.get("failed") or report.get("orphans")):
        report["error"] = f"exit {done.returncode} does not match the report"
    return report


def check(
    config: Path,
    env: Mapping[str, str],
    cameras: list[tuple[str, dict[str, str], dict[str, str]]],
    *,
    recovered: bool,
) -> Findings:
    """cameras: (name, files before the round, files now), path -> sha256. recovered: the
    round's recovery ran, so orphans and unfinished work count too."""
    findings = Findings()
    evidence, marked_erased = records_of(config)
    docked: set[str] = set()
    for name, before, now in cameras:
        for path, sha in sorted(before.items()):
            is_clip = path.startswith(CLIP_FOLDERS)
            if is_clip:
                docked.add(sha)
            if path in now:
                if now[path] != sha:
                    findings.add(f"{name}: {path} changed on the camera")
                elif is_clip:
                    findings.left += 1
                continue
            if not is_clip:
                findings.add(f"{name}: {path} (not evidence) disappeared from the camera")
                continue
            record = evidence.get(sha)
            if record is None:
                findings.add(f"{name}: {path} erased from the camera with no evidence record")
            elif record.status != "verified":
                findings.add(
                    f"{name}: {path} erased but evidence {record.evidence_id} is "
                    f"{record.status}, not verified (IN-2)"
                )
            elif record.backend == "spool":
                findings.add(
                    f"{name}: {path} erased while evidence {record.evidence_id} is only in the "
                    "local spool (IN-2: the S3 copy must verify first)"
                )
        extra = sorted(set(now) - set(before))
        if extra:
            findings.add(f"{name}: files appeared on the camera: {extra[:5]}")
        for path, sha in sorted(marked_erased):
            if now.get(path) == sha:
                findings.add(f"{name}: {path} is recorded as erased but is still on the camera")
    for sha, record in evidence.items():
        if sha not in docked:
            findings.add(f"evidence {record.evidence_id} holds bytes no camera of the round had")
    findings.sealed = sum(
        1 for sha in docked if sha in evidence and evidence[sha].status == "verified"
    )
    report = run_verify(config, env, orphans=recovered)
    if "error" in report:
        findings.add(f"evault evidence verify failed: {report['error']}")
    for failure in report.get("failed") or []:  # type: ignore[attr-defined]
        findings.add(f"evidence {failure['evidence_id']} does not verify: {failure['reason']}")
    if recovered:
        for key in report.get("orphans") or []:  # type: ignore[attr-defined]
            findings.add(f"orphan object in the store (no record points at it): {key}")
        unfinished = sorted(sha for sha in docked if evidence.get(sha) is None)
        if unfinished:
            findings.add(f"after recovery, {len(unfinished)} clips are still not sealed")
        not_verified = sorted(
            e.evidence_id
            for e in evidence.values()
            if e.status != "verified" or e.backend == "spool"
        )
        if not_verified:
            findings.add(f"after recovery, evidence not verified in the store: {not_verified}")
        if findings.left:
            findings.add(f"after recovery, {findings.left} clips are still on the cameras")
    return findings
