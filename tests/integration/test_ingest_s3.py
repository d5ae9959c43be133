"""The ingest bar on S3 Object Lock (a real Ceph radosgw): the key scenarios of
test_ingest.py with backend = "s3", an outage mid-ingest (IN-2, IN-3, IN-6), and the
`evault store check|init` commands."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.conftest import make_settings
from tests.integration.conftest import MIB, S3Service
from tests.integration.test_ingest import CLIPS, IMP, sha, statuses
from tests.integration.test_store_contract import YEAR, now
from vault.context import Vault
from vault.db.models import Evidence, Sighting
from vault.errors import StoreError
from vault.ingest.pipeline import ingest_volume
from vault.ingest.report import NoProgress
from vault.store import open_store
from vault.store.base import VerifyResult
from vault.timeutil import FixedClock
from vault.uploader import drain

pytestmark = pytest.mark.s3
BIG = f"{CLIPS}/3100001_010203_20261123170000_0042.MP4"  # sorts after the sample's clips


def s3_vault(home: Path, clock: FixedClock, service: S3Service, bucket: str, **extra: Any) -> Vault:
    settings = make_settings(home, store=service.store_settings(bucket, **extra))
    return Vault(settings, clock=clock, user="tester")


@pytest.fixture
def vault(home: Path, clock: FixedClock, s3_service: S3Service, s3_bucket: str) -> Vault:
    return s3_vault(home, clock, s3_service, s3_bucket)


def oldest_versions(service: S3Service, bucket: str) -> dict[str, str]:
    listed = service.client().list_object_versions(Bucket=bucket, Prefix="sha256/")
    oldest: dict[str, str] = {}
    for version in listed.get("Versions", []):  # newest first: the last one seen is oldest
        oldest[version["Key"]] = version["VersionId"]
    return oldest


def left_on(camera: Path) -> set[str]:
    return {str(p.relative_to(camera)) for p in camera.rglob("*") if p.is_file()}


def test_first_dock_seals_every_clip_into_s3_once_and_links_the_imp_copy(
    vault: Vault, camera: Path, s3_service: S3Service, s3_bucket: str
) -> None:
    """IN-3, IN-6: each clip is one locked object version named by its SHA-256, its version
    recorded; the IMP copy is linked, not stored again. A 12 MiB clip goes in parts."""
    (camera / BIG).write_bytes(os.urandom(12 * MIB))
    report = ingest_volume(vault, camera).to_json()
    assert report["ok"], report["skipped"]
    found = statuses(report)
    imp = next(p for p in found if p.startswith(IMP))
    assert found.pop(imp) == "duplicate"
    assert set(found.values()) == {"sealed"} and len(found) == 6
    assert all(c["verified"] for c in report["clips"])
    versions = oldest_versions(s3_service, s3_bucket)
    with vault.session() as session:
        rows = list(session.exec(select(Evidence)))
    assert len(rows) == 6 == len(versions)
    s3 = s3_service.client()
    for row in rows:
        assert row.storage_backend == "s3" and row.storage_key == vault.store.key_for(row.sha256)
        assert row.storage_version == versions[row.storage_key]
        head = s3.head_object(Bucket=s3_bucket, Key=row.storage_key, VersionId=row.storage_version)
        assert head["Metadata"]["sha256"] == row.sha256 and head["ObjectLockMode"] == "COMPLIANCE"
        assert row.retain_until is not None
        assert abs(head["ObjectLockRetainUntilDate"].timestamp() - row.retain_until.timestamp()) < 1
    assert sha(camera / BIG) in {r.sha256 for r in rows}
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def test_second_dock_on_s3_seals_nothing_new(
    vault: Vault, camera: Path, s3_service: S3Service, s3_bucket: str
) -> None:
    """IN-6: a re-dock adds sightings, never a second object version."""
    ingest_volume(vault, camera)
    before = oldest_versions(s3_service, s3_bucket)
    again = ingest_volume(vault, camera).to_json()
    assert set(statuses(again).values()) == {"already_sealed"}
    listed = s3_service.client().list_object_versions(Bucket=s3_bucket, Prefix="sha256/")
    assert len(listed["Versions"]) == len(before) == 5
    with vault.session() as session:
        assert len(list(session.exec(select(Sighting)))) == 12


def test_erase_removes_only_clips_verified_in_s3(vault: Vault, camera: Path) -> None:
    """IN-2: after sealing in S3 and reading back, the camera is cleared of clips only."""
    report = ingest_volume(vault, camera, erase=True).to_json()
    assert report["ok"] and len(report["erased"]) == 6
    assert left_on(camera) == {"DCIM/LOGS/DEVLOG.TXT", "DCIM/SEGTEMP/SEG0001.TMP", "DEVICE.TXT"}


def test_clip_whose_s3_copy_does_not_verify_is_never_erased(
    vault: Vault, camera: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IN-2: a sealed copy that does not read back correctly keeps the camera's copy."""

    def failing_verify(key: str, expected: str, size: int | None = None) -> VerifyResult:
        return VerifyResult(key, False, "0" * 64, size, "content does not match its SHA-256")

    monkeypatch.setattr(vault.store, "verify", failing_verify)
    before = left_on(camera)
    report = ingest_volume(vault, camera, erase=True)
    assert not report.ok and report.erased == [] and left_on(camera) == before
    with vault.session() as session:
        assert {e.status for e in session.exec(select(Evidence))} == {"failed"}


class CuttableLink:
    """A TCP forwarder to the S3 endpoint that can be cut like a pulled network cable: open
    connections drop and new ones are refused."""

    def __init__(self, endpoint: str) -> None:
        host, _, port = endpoint.removeprefix("http://").partition(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.budget: int | None = None  # bytes still let through towards the service
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.down = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(256 * 1024):
                if upstream and self.budget is not None:
                    with self.lock:
                        self.budget -= len(data)
                        over = self.budget < 0
                    if over:
                        self.cut()
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut_after(self, count: int) -> None:
        self.budget = count

    def cut(self) -> None:
        self.down = True
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class CutMidClip(NoProgress):
    """Cuts the link 3 MiB into the big clip, in the middle of its first part."""

    def __init__(self, link: CuttableLink) -> None:
        self.link = link

    def file_started(self, path: str, size: int) -> None:
        if path == BIG:
            self.link.cut_after(3 * MIB)


def test_outage_mid_ingest_loses_nothing_and_erases_nothing_early(
    home: Path, camera: Path, clock: FixedClock, s3_service: S3Service, s3_bucket: str
) -> None:
    """IN-2: the S3 service becomes unreachable in the middle of a clip's upload. The clips
    whose upload failed are reported failed and stay on the camera; only clips sealed and
    verified before the outage are erased. Once the uploader has drained what the outage
    spooled, the next dock completes the work and removes the interrupted upload."""
    (camera / BIG).write_bytes(os.urandom(12 * MIB))
    everything = {p: sha(camera / p) for p in left_on(camera) if p.startswith("DCIM/1")}
    link = CuttableLink(s3_service.endpoint)
    cut_vault = s3_vault(home, clock, s3_service, s3_bucket, endpoint_url=link.url)
    report = ingest_volume(cut_vault, camera, erase=True, progress=CutMidClip(link))
    assert link.down and not report.ok
    failed = dict(report.failed)
    assert BIG in failed and "cannot be reached" in failed[BIG]
    assert failed.keys() <= left_on(camera)
    direct = s3_vault(home, clock, s3_service, s3_bucket)
    for clip in report.clips:
        assert clip.path in report.erased or clip.path in left_on(camera)
        if clip.path in report.erased:  # only what was read back and matched
            assert clip.verified is True
            assert direct.store.verify(direct.store.key_for(clip.sha256), clip.sha256).ok
    with direct.session() as session:
        assert everything[BIG] not in {e.sha256 for e in session.exec(select(Evidence))}
    # A clip whose put began after the cut went to the local spool (how many depends on the
    # moment the link fell, the uploads and read-backs overlapping): it stays on the camera
    # until the uploader has moved it to S3 and verified it there, as a station's does.
    spooled = [clip for clip in report.clips if clip.spooled]
    assert {c.path for c in spooled} <= left_on(camera) - set(report.erased)
    drained = drain(direct)
    assert drained.left == 0 and {c.evidence_id for c in spooled} <= set(drained.uploaded)

    second = ingest_volume(direct, camera, erase=True)
    assert second.ok, second.failed
    assert left_on(camera) == {"DCIM/LOGS/DEVLOG.TXT", "DCIM/SEGTEMP/SEG0001.TMP", "DEVICE.TXT"}
    store = direct.store
    for path, digest in everything.items():
        assert store.verify(store.key_for(digest), digest).ok, path
    s3 = s3_service.client()
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    assert not s3.list_object_versions(Bucket=s3_bucket, Prefix="staging/").get("Versions")
    with direct.session() as session:
        sealed = session.exec(select(Evidence).order_by(col(Evidence.id)))
        assert {e.sha256 for e in sealed} == set(everything.values())


# `evault store check|init` against the same service.


def evault_store(
    home: Path, settings: dict[str, object], *args: str
) -> subprocess.CompletedProcess[str]:
    lines = ["[store]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    (home / "vault.toml").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "EVAULT_HOME": str(home)}
    env.pop("EVAULT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-c", "from vault.cli import main; main()", "store", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.s3
def test_store_check_refuses_a_bucket_without_object_lock_and_init_makes_one(
    s3_service,
    home: Path,  # type: ignore[no-untyped-def]
) -> None:
    """IN-3: the vault will not run against a bucket that cannot lock; `store init` creates
    one with Object Lock and the configured default retention, and `store check` passes."""
    s3 = s3_service.client()
    plain = f"evt-plain-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=plain)
    settings = s3_service.store_settings(plain)
    checked = evault_store(home, settings, "check")
    assert checked.returncode == 1 and "has no Object Lock" in checked.stdout
    assert "--object-lock-enabled-for-bucket" in checked.stdout
    writer = open_store(make_settings(home, store=settings)).begin_put()
    writer.write(b"evidence")
    with pytest.raises(StoreError, match="has no Object Lock"):
        writer.commit(hashlib.sha256(b"evidence").hexdigest(), 8, now() + YEAR)

    fresh = s3_service.store_settings(f"evt-init-{os.urandom(4).hex()}", default_retention_days=400)
    assert evault_store(home, fresh, "check").returncode == 1
    made = evault_store(home, fresh, "init", "--json")
    assert made.returncode == 0, made.stderr + made.stdout
    report = json.loads(made.stdout)
    assert report["created"] and report["object_lock"] and report["versioning"] == "Enabled"
    assert report["default_retention"] == "COMPLIANCE 400 days"
    assert evault_store(home, fresh, "check").returncode == 0
    assert json.loads(evault_store(home, fresh, "init", "--json").stdout)["created"] is False


@pytest.mark.s3
def test_rejected_credentials_are_named_but_never_shown(
    s3_service,
    s3_bucket: str,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    secret = "wrong-secret-" + os.urandom(8).hex()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    checked = evault_store(home, s3_service.store_settings(s3_bucket), "check")
    assert checked.returncode == 1 and "rejected the credentials" in checked.stderr
    output = checked.stdout + checked.stderr
    assert secret not in output and s3_service.access_key not in output
    assert "Traceback" not in output
