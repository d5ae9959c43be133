"""An unattended station (issue 16): after a docking nobody types `compliance scan`; the media
worker runs it once the clips' probes and audio are in, so the findings of the docking are in
`report compliance` (RC-1, RC-3, DV-2, IN-1)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tests.compliance_footage import CameraSpec, ClipSpec, base_clips, local, make_camera
from tests.conftest import make_settings, run_evault
from vault.context import Vault
from vault.db.models import AuditEvent, RecordingSession
from vault.media.worker import run_worker

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("espeak-ng") is None,
    reason="needs ffmpeg and espeak-ng",
)
S = 4  # seconds per clip (tests/compliance_footage.py)


def _camera(root: Path) -> Path:
    start = local("2026-11-23 09:00:00")
    spec = CameraSpec(
        "3100001",
        "010203",
        [
            ClipSpec(start, "speech"),
            ClipSpec(start + timedelta(seconds=S + 300), "noise"),  # resumed, no narration
        ],
        local("2026-11-23 18:00:00"),
    )
    return make_camera(root / "cam", spec, base_clips(root / "bases"))


def test_a_docking_has_its_findings_after_media_work_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    make_settings(home)
    camera = _camera(tmp_path)
    docked = run_evault(home, "ingest", str(camera), "--json")
    assert docked.returncode == 0, docked.stderr
    before = run_evault(home, "report", "compliance", "--json")
    assert json.loads(before.stdout)["sessions"] == []  # nothing scanned yet

    worked = run_evault(home, "media", "run", "--until-idle", "--json")
    assert worked.returncode == 0, worked.stderr
    summary = json.loads(worked.stdout)
    assert [scan["ok"] for scan in summary["scans"]] == [True]
    assert not any(job["kind"] == "compliance" for job in summary["jobs"])

    report = json.loads(run_evault(home, "report", "compliance", "--json").stdout)
    (session,) = report["sessions"]
    assert session["opening_narrated"] is True
    (gap,) = session["gaps"]
    assert gap["resume_narrated"] is False
    rules = {finding["rule"] for finding in report["findings"]}
    assert "RC-3" in rules  # the unnarrated resume, found by nobody typing a scan

    again = json.loads(run_evault(home, "media", "run", "--until-idle", "--json").stdout)
    assert again["jobs"] == [] and again["scans"] == []  # no new media facts: no new scan


def test_a_failing_scan_is_reported_and_the_worker_carries_on(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    from vault.ingest.pipeline import ingest_volume

    vault = Vault(make_settings(home), user="keeper")
    ingest_volume(vault, _camera(tmp_path))

    def broken() -> dict[str, object]:
        raise OSError("disk full")

    report = run_worker(vault, until_idle=True, on_idle=broken)
    assert report.scans == [{"ok": False, "error": "OSError: disk full"}]
    assert report.jobs and all(job["state"] == "done" for job in report.jobs)
    with vault.session() as session:
        assert session.exec(select(RecordingSession)).first() is None
        assert (
            session.exec(
                select(AuditEvent).where(AuditEvent.action == "compliance.scanned")
            ).first()
            is None
        )
