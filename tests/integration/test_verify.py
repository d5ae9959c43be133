"""`evault verify` (issue 15): a real vault (sample camera ingested, a derivative, a case, a
hold, a request with a document, an approved export, a revoked grant) verifies clean; each
way of forging or losing a record found in its own class, with its exit code.

The edits are made as an insider with the database would make them: raw SQL through the
vault's own engine (SQLite or PostgreSQL), files changed by hand in the store."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.access_office import CASE
from tests.conftest import make_settings, run_evault
from tests.verify_scene import Scene, build_scene
from vault.access.export import export
from vault.context import Vault
from vault.db.models import AccessGrant, AuditEvent, Evidence, Officer
from vault.errors import AccessRefused
from vault.recovery.findings import Report
from vault.recovery.seal_missing import seal_missing
from vault.recovery.verify import verify
from vault.store import LocalWormStore
from vault.timeutil import FixedClock, iso


@pytest.fixture
def scene(vault: Vault, camera: Path, tmp_path: Path) -> Scene:
    return build_scene(vault, camera, tmp_path)


def problems(report: Report) -> list[tuple[str, str, str]]:
    """The findings that are not warnings: (class, subject, reason)."""
    return [(f.kind, f.subject, f.reason) for f in report.findings if f.kind != "warnings"]


def classes(report: Report) -> set[str]:
    return {kind for kind, _, _ in problems(report)}


def test_an_untouched_vault_verifies_clean(scene: Scene) -> None:
    report = verify(scene.vault)
    assert problems(report) == []
    assert report.exit_code in (0, 10)
    # The fixture's store may not make files immutable: said once, as a warning.
    warnings = [f for f in report.findings if f.kind == "warnings" and f.subject == "store"]
    assert len(warnings) == 1 and "CAP_LINUX_IMMUTABLE" in warnings[0].reason
    checked = report.checked
    clips = len(scene.office.evidence)
    assert checked["objects"] == clips + 2 + 4  # the clips, two posters, two requests' papers
    assert checked["rows"] == checked["objects"]
    assert checked["grants"] == 2 and checked["chains"] > 0
    assert checked["retention"] == clips + 2
    assert checked["protection"] == checked["objects"]


def forge_row(scene: Scene, evidence_id: int) -> Evidence:
    """Forged bytes sealed at their own address, the evidence row's sha256, storage_key
    and size changed to match; the row as it was is returned."""
    target = scene.evidence(evidence_id)
    forged = b"forged footage " * 1000
    sha = hashlib.sha256(forged).hexdigest()
    writer = scene.store.begin_put()
    writer.write(forged)
    put = writer.commit(sha, len(forged), target.retain_until or scene.vault.clock.now())
    scene.sql(
        "UPDATE evidence SET sha256 = :sha, storage_key = :key, size = :size WHERE id = :id",
        sha=sha,
        key=put.key,
        size=len(forged),
        id=target.id,
    )
    return target


def test_a_row_swapped_to_forged_bytes_at_their_own_address_is_found(scene: Scene) -> None:
    """The forged clip verifies against its own hash (objects pass), but no seal record
    says these bytes were ever sealed, and the real clip's seal record has no row left."""
    target = forge_row(scene, scene.office.evidence[0])
    report = verify(scene.vault)
    found = problems(report)
    assert ("objects", f"evidence:{target.id}") not in {(k, s) for k, s, _ in found}
    rows = [(s, r) for k, s, r in found if k == "rows"]
    assert any(s == f"evidence:{target.id}" and "no seal record" in r for s, r in rows), rows
    assert any(
        s.startswith(f"seal:seal/{target.sha256[:2]}/{target.sha256}/")
        and "sealed object with no record" in r
        for s, r in rows
    ), rows
    assert report.exit_code == 6


def test_an_edited_officer_and_recording_time_are_found(scene: Scene) -> None:
    evidence_id = scene.office.evidence[2]
    with scene.vault.session() as session:
        other = session.exec(select(Officer).where(Officer.officer_id == "999999")).first()
        if other is None:
            other = Officer(officer_id="999999", name="钱其他")
            session.add(other)
            session.commit()
        other_pk = other.id
    moved = scene.evidence(evidence_id).recorded_at
    assert moved is not None
    scene.sql(
        "UPDATE evidence SET officer_pk = :pk, recorded_at = :at WHERE id = :id",
        pk=other_pk,
        at=moved - timedelta(hours=3),
        id=evidence_id,
    )
    found = [(s, r) for k, s, r in problems(verify(scene.vault)) if k == "rows"]
    assert len(found) == 1, found
    subject, reason = found[0]
    assert subject == f"evidence:{evidence_id}"
    assert "recorded_at" in reason and "officer" in reason


def test_a_retain_until_moved_earlier_in_the_database_is_found(scene: Scene) -> None:
    evidence_id = scene.office.evidence[2]
    until = scene.evidence(evidence_id).retain_until
    assert until is not None
    scene.sql(
        "UPDATE evidence SET retain_until = :at WHERE id = :id",
        at=until - timedelta(days=200),
        id=evidence_id,
    )
    report = verify(scene.vault)
    assert classes(report) == {"retention"}
    assert report.exit_code == 8
    (finding,) = [f for f in report.findings if f.kind == "retention"]
    assert finding.subject == f"evidence:{evidence_id}" and "database was edited" in finding.reason


def test_a_format_1_retention_file_written_beside_the_records_is_found(scene: Scene) -> None:
    evidence = scene.evidence(scene.office.evidence[2])
    assert evidence.retain_until is not None
    sidecar = scene.store.root / "retention" / evidence.sha256[:2] / f"{evidence.sha256}.json"
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    earlier = iso(evidence.retain_until - timedelta(days=300))
    sidecar.write_text(json.dumps({"retain_until": earlier, "legal_hold": False}))
    report = verify(scene.vault)
    assert classes(report) == {"retention"}
    (finding,) = [f for f in report.findings if f.kind == "retention"]
    assert "format 1 retention file" in finding.reason and str(sidecar) in finding.reason
    # The store itself still holds its records' date (it ignores the file).
    assert scene.store.stat(evidence.storage_key).retain_until == evidence.retain_until


def test_a_revoked_grant_un_revoked_in_sql_is_found_and_refused_for_export(
    scene: Scene, tmp_path: Path
) -> None:
    scene.sql(
        "UPDATE access_grant SET revoked_at = NULL, revoked_by_id = NULL, revoke_reason = NULL "
        "WHERE id = :id",
        id=scene.revoked,
    )
    report = verify(scene.vault)
    assert classes(report) == {"grants"}
    assert report.exit_code == 7
    (finding,) = [f for f in report.findings if f.kind == "grants"]
    assert (
        finding.subject == f"grant:{scene.revoked}" and "revoked in the register" in finding.reason
    )
    with pytest.raises(AccessRefused, match="revoked"):
        export(
            scene.office.keeper,
            f"evidence:{scene.office.evidence[0]}",
            tmp_path / "again",
            scene.revoked,
        )


def test_a_grant_widened_in_sql_is_found(scene: Scene) -> None:
    later = scene.vault.clock.now() + timedelta(days=3650)
    scene.sql(
        "UPDATE access_grant SET expires_at = :at WHERE id = :id", at=later, id=scene.exported
    )
    found = [(s, r) for k, s, r in problems(verify(scene.vault)) if k == "grants"]
    assert found and found[0][0] == f"grant:{scene.exported}" and "expiry" in found[0][1]


def test_an_object_opened_for_writing_is_found(scene: Scene) -> None:
    evidence = scene.evidence(scene.office.evidence[1])
    path = scene.path_of(evidence.storage_key)
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
    path.chmod(0o644)
    report = verify(scene.vault)
    assert classes(report) == {"protection"}
    assert report.exit_code == 9
    (finding,) = [f for f in report.findings if f.kind == "protection"]
    assert finding.subject == f"evidence:{evidence.id}" and "writable (mode 0644)" in finding.reason


def test_a_flipped_byte_is_found(scene: Scene) -> None:
    evidence = scene.evidence(scene.office.evidence[1])
    path = scene.path_of(evidence.storage_key)
    path.chmod(0o600)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    path.chmod(0o400)
    report = verify(scene.vault)
    assert classes(report) == {"objects"}
    assert report.exit_code == 5
    (finding,) = [f for f in report.findings if f.kind == "objects"]
    assert finding.subject == f"evidence:{evidence.id}" and "SHA-256" in finding.reason
    assert classes(verify(scene.vault, objects=False)) == set()  # --no-objects: not re-read


def test_a_deleted_evidence_row_is_found_as_a_sealed_object_with_no_record(
    scene: Scene,
) -> None:
    evidence = scene.evidence(scene.office.evidence[3])
    for table in ("sighting", "media_job", "case_link", "hold"):
        scene.sql(f"DELETE FROM {table} WHERE evidence_id = :id", id=evidence.id)
    scene.sql("DELETE FROM evidence WHERE id = :id", id=evidence.id)
    report = verify(scene.vault)
    assert classes(report) == {"rows"}
    (finding,) = [f for f in report.findings if f.kind == "rows"]
    assert evidence.sha256 in finding.subject
    assert "sealed object with no record" in finding.reason
    assert "evault store rebuild-index" in finding.reason


def test_a_row_without_a_seal_record_is_sealed_once_by_seal_missing(scene: Scene) -> None:
    """A vault sealed before seal records: --seal-missing writes them where the audit chain
    vouches for the bytes, registers each, and refuses a row whose bytes it does not."""
    evidence = scene.evidence(scene.office.evidence[2])
    folder = scene.store.root / "records" / "seal" / evidence.sha256[:2] / evidence.sha256
    for record in folder.iterdir():  # as if sealed by the version before
        record.unlink()
    folder.rmdir()
    found = [(s, r) for k, s, r in problems(verify(scene.vault)) if k == "rows"]
    assert found == [
        (
            f"evidence:{evidence.id}",
            f"no seal record of its object {evidence.sha256} (sealed before this version kept "
            "seal records? then run `evault verify --seal-missing` once after upgrading)",
        )
    ]
    result = seal_missing(scene.vault)
    assert result.sealed == [f"evidence:{evidence.id}"] and result.refused == []
    assert problems(verify(scene.vault)) == []
    assert seal_missing(scene.vault).sealed == []  # once
    with scene.vault.session() as session:
        backfilled = session.exec(
            select(AuditEvent).where(AuditEvent.action == "seal.backfilled")
        ).all()
    assert [e.subject for e in backfilled] == [f"evidence:{evidence.id}"]
    # A forged row has no seal record either, but nothing vouches for its bytes.
    forged = forge_row(scene, scene.office.evidence[0])
    refused = seal_missing(scene.vault)
    assert refused.sealed == []
    assert refused.refused == [
        {
            "subject": f"evidence:{forged.id}",
            "reason": "the audit chain's sealing event names other bytes, or none",
        }
    ]
    assert "rows" in classes(verify(scene.vault))


def test_the_cli_prints_each_class_and_exits_with_the_finding_s_code(scene: Scene) -> None:
    home = scene.vault.settings.home
    clean = run_evault(home, "verify", "--json")
    assert clean.returncode in (0, 10), clean.stderr
    data = json.loads(clean.stdout)
    assert data["exit_code"] == clean.returncode
    assert set(data["classes"]) == {
        "chains",
        "objects",
        "rows",
        "grants",
        "retention",
        "protection",
        "warnings",
    }
    scene.sql(
        "UPDATE evidence SET file_name = 'renamed.mp4' WHERE id = :id",
        id=scene.office.evidence[0],
    )
    edited = run_evault(home, "verify")
    assert edited.returncode == 6, edited.stdout + edited.stderr
    assert "rows" in edited.stdout and "exit 6" in edited.stdout
    fast = run_evault(home, "verify", "--json", "--no-objects", "--seal-missing")
    assert fast.returncode == 6, fast.stderr
    report = json.loads(fast.stdout)
    assert report["classes"]["objects"]["checked"] == 0
    assert report["seal_missing"] == {"sealed": [], "refused": []}  # every row has its own
    (found,) = report["classes"]["rows"]["found"]
    assert found["subject"] == f"evidence:{scene.office.evidence[0]}"
    assert "file_name" in found["reason"]


# With the immutable flag: the store seals files +i, verify holds them to it.


@pytest.fixture
def immutable_vault(home: Path) -> Iterator[Vault]:
    settings = make_settings(home, store={"immutable": "auto"})
    vault = Vault(
        settings, clock=FixedClock(datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)), user="tester"
    )
    store = vault.store
    assert isinstance(store, LocalWormStore)
    if os.geteuid() != 0 or not store.can_protect():
        pytest.skip("needs CAP_LINUX_IMMUTABLE on a filesystem with chattr +i")
    try:
        yield vault
    finally:
        subprocess.run(["chattr", "-R", "-i", str(store.root)], check=False, capture_output=True)


def test_with_immutable_files_a_stripped_flag_is_found(
    immutable_vault: Vault, camera: Path, tmp_path: Path
) -> None:
    scene = build_scene(immutable_vault, camera, tmp_path)
    report = verify(scene.vault)
    assert problems(report) == []
    assert not [f for f in report.findings if f.subject == "store"]  # it can protect
    with scene.vault.session() as session:
        evidence = session.exec(select(Evidence).order_by(col(Evidence.id))).first()
    assert evidence is not None and evidence.immutable_applied
    path = scene.path_of(evidence.storage_key)
    subprocess.run(["chattr", "-i", str(path)], check=True)
    report = verify(scene.vault)
    assert classes(report) == {"protection"}
    (finding,) = [f for f in report.findings if f.kind == "protection"]
    assert finding.subject == f"evidence:{evidence.id}" and "not immutable" in finding.reason
    path.chmod(0o644)
    (finding,) = [f for f in verify(scene.vault).findings if f.kind == "protection"]
    assert "writable (mode 0644)" in finding.reason and "not immutable" in finding.reason


def test_the_grant_left_to_an_export_stays_usable(scene: Scene, tmp_path: Path) -> None:
    """The refusal of a register-revoked grant leaves valid grants alone."""
    with scene.vault.session() as session:
        grant = session.get_one(AccessGrant, scene.exported)
    assert grant.revoked_at is None
    result = export(scene.office.keeper, f"case:{CASE}", tmp_path / "second", scene.exported)
    assert result.grant_id == scene.exported


def test_the_findings_go_into_the_compliance_report_as_altered_records(scene: Scene) -> None:
    """OV-3: the report lists what the newest `evault verify` found (warnings aside)."""
    from vault.compliance.report import ReportFilters, build_report

    scene.sql(
        "UPDATE evidence SET file_name = 'renamed.mp4' WHERE id = :id",
        id=scene.office.evidence[0],
    )
    verify(scene.vault)
    report = build_report(scene.vault, ReportFilters())
    altered = [f for f in report["findings"] if f["rule"] == "OV-3"]
    assert [f["subject"] for f in altered] == [f"evidence:{scene.office.evidence[0]}"]
    assert "file_name" in altered[0]["detail"]
    assert report["verification"]["exit_code"] == 6
