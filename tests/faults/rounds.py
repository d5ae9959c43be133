"""One round of the fault-injection suite (issue 9): one or two random cameras docked into
the real daemon (`evault dock --replay ... --exit-when-idle`, a subprocess), one fault
injected while it works, the harm mended, the cameras docked again without faults, and the
invariants checked twice: right after the fault, and after recovery.

Faults:
  kill        SIGKILL of the daemon at a random checkpoint (EVAULT_KILL_AT=NAME:N)
  pull        a camera pulled out mid-read (its FUSE daemon killed)
  s3_down     the S3 endpoint stopped mid-upload (the spool takes over); back for the drain
  db_restart  the PostgreSQL server restarted mid-ingest (fast or immediate)
  disk_full   the store (local) or the spool (S3 down) on a tiny ext4 that fills; space is
              freed afterwards
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.dock_cameras import pull_out
from tests.faults.cameras import Camera, make_camera, write_events
from tests.faults.invariants import EVAULT, Findings, check
from tests.faults.services import Link, PostgresServer, S3Endpoint, TinyDisk
from vault.dock.mount import mounted_under
from vault.dock.status import DockNotRunning, read_status

KILL_POINTS = (
    "stream.chunk",
    "store.written",
    "store.linked",
    "ingest.sealed",
    "ingest.recorded",
    "ingest.verified",
    "ingest.erased",
)
KINDS = {
    "local": ("kill", "pull", "disk_full", "db_restart"),
    "s3": ("kill", "pull", "s3_down", "disk_full", "db_restart"),
}
CHUNK = 256 * 1024  # [ingest] chunk_size of the rounds: many kill points per clip
RUN_TIMEOUT = 180.0
ENDED = ("done", "failed")


@dataclass
class Lab:
    """What the rounds share: a work folder, the backend and the services to break."""

    work: Path
    backend: str = "local"
    s3: S3Endpoint | None = None
    pg: PostgresServer | None = None
    pg_reason: str = "no PostgreSQL server"
    keep: bool = False  # keep every round's folder (those with violations are always kept)

    def kinds(self) -> tuple[str, ...]:
        kinds = KINDS[self.backend]
        return kinds if self.pg is not None else tuple(k for k in kinds if k != "db_restart")


@dataclass
class Outcome:
    number: int
    seed: int
    kind: str
    fired: bool  # the fault landed while the daemon worked (a kill point reached, ...)
    detail: str
    violations: list[str] = field(default_factory=list)
    cameras: int = 0
    clips: int = 0
    seconds: float = 0.0
    folder: Path | None = None


def _mount_name(bay: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", bay)


class Round:
    def __init__(self, lab: Lab, number: int, seed: int, kind: str) -> None:
        self.lab, self.number, self.seed, self.kind = lab, number, seed, kind
        self.rng = random.Random(seed)
        self.dir = lab.work / f"round-{number:04d}-{kind}"
        self.home = self.dir / "home"
        self.config = self.dir / "vault.toml"
        self.mount_root = self.dir / "mnt"
        self.cameras: list[Camera] = []
        self.link: Link | None = None
        self.disk: TinyDisk | None = None
        self.bucket: str | None = None
        self.database: str | None = None
        self.database_url: str | None = None
        self.runs = 0
        self.findings: list[str] = []

    # -- set-up -----------------------------------------------------------------------------
    def prepare(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.home.mkdir(parents=True)
        for index in range(self.rng.choice([1, 1, 2])):
            self.cameras.append(make_camera(self.rng, self.dir, index))
        self.events = write_events(self.cameras, self.dir / "events.json")
        if self.lab.backend == "s3":
            assert self.lab.s3 is not None
            self.link = Link(self.lab.s3.endpoint)
            self.bucket = self.lab.s3.new_bucket()
        if self.kind == "db_restart":
            assert self.lab.pg is not None
            self.database = f"faults_{os.getpid()}_{self.number}"
            self.database_url = self.lab.pg.new_database(self.database)
        if self.kind == "disk_full":
            size_mb = self.clip_bytes * 11 // 10 // 2**20 + 8  # room for all once freed
            self.disk = TinyDisk(self.dir / "tiny.img", self.dir / "tiny", size_mb)
            # Leave room for a random part of the clips: the disk fills mid-clip.
            room = self.rng.randint(256 * 1024, max(300 * 1024, self.clip_bytes * 3 // 4))
            ballast = max(0, self.disk.free_bytes() - room - 512 * 1024)
            (self.disk.mount / "ballast").write_bytes(b"\0" * ballast)
        self.write_config()

    @property
    def clip_bytes(self) -> int:
        return sum(c.clip_bytes for c in self.cameras)

    @property
    def clip_count(self) -> int:
        return sum(len(c.clips) for c in self.cameras)

    def write_config(self) -> None:
        lines = [f'home = "{self.home}"', 'station_id = "faults"', "", "[store]"]
        lines.append('immutable = "off"')  # chattr +i files would outlive the round
        if self.lab.backend == "s3":
            assert self.lab.s3 is not None and self.link is not None
            lines += [
                'backend = "s3"',
                f'endpoint_url = "{self.link.url}"',
                f'region = "{self.lab.s3.region}"',
                f'bucket = "{self.bucket}"',
                f"part_size = {5 * 1024 * 1024}",
                "max_attempts = 2",
                "timeout_s = 10",
                "spool_min_free_mb = 1",
            ]
            if self.disk is not None:
                lines.append(f'spool_path = "{self.disk.mount}"')
        elif self.disk is not None:
            lines.append(f'path = "{self.disk.mount}"')
        if self.database_url:
            lines += ["", "[database]", f'url = "{self.database_url}"']
        lines += ["", "[ingest]", f"chunk_size = {CHUNK}", "", "[dock]", "settle_s = 0"]
        lines += ["workers = 2", f'mount_root = "{self.mount_root}"', "watchdog_s = 0.5"]
        self.config.write_text("\n".join(lines) + "\n")

    def env(self, **faults: str) -> dict[str, str]:
        drop = ("EVAULT_KILL_AT", "EVAULT_PAUSE_AT", "EVAULT_CONFIG", "EVAULT_DATABASE_URL")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env |= {"EVAULT_HOME": str(self.home), "EVAULT_CONFIG": str(self.config), **faults}
        if self.lab.s3 is not None:
            env |= self.lab.s3.env()
        return env

    # -- the daemon -------------------------------------------------------------------------
    def dock(self, **faults: str) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        self.runs += 1
        log = (self.dir / f"dock-{self.runs}.log").open("wb")
        argv = [*EVAULT, "dock", "--replay", str(self.events), "--exit-when-idle"]
        proc = subprocess.Popen(argv, env=self.env(**faults), stdout=log, stderr=log)
        return proc, log

    def wait(self, proc: subprocess.Popen[bytes], log: IO[bytes], what: str) -> int | None:
        try:
            return proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.findings.append(f"{what}: the dock did not exit within {RUN_TIMEOUT:.0f} s")
            return None
        finally:
            log.close()

    def log_text(self) -> str:
        return (self.dir / f"dock-{self.runs}.log").read_text(errors="replace")

    def wait_progress(self, proc: subprocess.Popen[bytes], bay: str | None, threshold: int) -> bool:
        """Until the bay (None: all bays together) has read threshold bytes and is still at
        work; False if it ended first."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                state = read_status(self.home / "dock.sock", timeout=1.0)
            except (DockNotRunning, OSError, ValueError):
                time.sleep(0.02)
                continue
            bays = [b for b in state["bays"] if bay is None or b["bay"] == bay]
            done = sum(b["bytes_done"] for b in bays)
            if bays and done >= threshold and any(b["state"] not in ENDED for b in bays):
                return True
            expected = 1 if bay is not None else len(self.cameras)
            if len(bays) >= expected and all(b["state"] in ENDED for b in bays):
                return False
            time.sleep(0.02)
        return False

    # -- faults -----------------------------------------------------------------------------
    def inject(self) -> tuple[bool, str]:
        return getattr(self, f"_fault_{self.kind}")()  # type: ignore[no-any-return]

    def _fault_kill(self) -> tuple[bool, str]:
        point = self.rng.choice(KILL_POINTS)
        most = self.clip_bytes // CHUNK if point == "stream.chunk" else self.clip_count
        nth = self.rng.randint(1, max(1, most))
        proc, log = self.dock(EVAULT_KILL_AT=f"{point}:{nth}")
        code = self.wait(proc, log, "kill run")
        fired = code == -9
        return fired, f"SIGKILL at {point}:{nth}" + ("" if fired else f" not reached (exit {code})")

    def _fault_pull(self) -> tuple[bool, str]:
        camera = self.rng.choice(self.cameras)
        threshold = self.rng.randint(0, max(0, camera.clip_bytes - 1))
        # A pause of the writer at a random chunk widens the window in which to pull.
        pause = self.rng.randint(1, max(1, self.clip_bytes // CHUNK))
        proc, log = self.dock(EVAULT_PAUSE_AT=f"stream.chunk:{pause}:1.5")
        pulled = False
        if self.wait_progress(proc, camera.bay, threshold):
            try:
                pull_out(self.mount_root / _mount_name(camera.bay))
                pulled = True
            except AssertionError:  # its mount is already gone: the camera was done
                pulled = False
        self.wait(proc, log, "pull run")
        where = f"{camera.label} ({camera.fs}) after {threshold:,} bytes"
        return pulled, f"pulled {where}" if pulled else f"{where}: finished before the pull"

    def _fault_s3_down(self) -> tuple[bool, str]:
        assert self.link is not None
        threshold = self.rng.randint(0, max(0, self.clip_bytes - 1))
        proc, log = self.dock()
        cut = self.wait_progress(proc, None, threshold)
        if cut:
            self.link.down()
        self.wait(proc, log, "S3 outage run")
        spooled = "spool" in self.log_text()
        return cut, f"S3 endpoint stopped after {threshold:,} bytes" + (
            "" if cut else " (the dock had finished)"
        ) + ("; clips spooled" if spooled else "")

    def _fault_db_restart(self) -> tuple[bool, str]:
        assert self.lab.pg is not None
        threshold = self.rng.randint(0, max(0, self.clip_bytes - 1))
        mode = self.rng.choice(["fast", "immediate"])
        proc, log = self.dock()
        reached = self.wait_progress(proc, None, threshold)
        if reached:
            self.lab.pg.restart(mode)
        self.wait(proc, log, "database restart run")
        return reached, f"PostgreSQL restarted ({mode}) after {threshold:,} bytes" + (
            "" if reached else " (the dock had finished)"
        )

    def _fault_disk_full(self) -> tuple[bool, str]:
        assert self.disk is not None
        where = "store"
        if self.link is not None:  # S3: the spool fills while the service is away
            self.link.down()
            where = "spool"
        free = self.disk.free_bytes()
        proc, log = self.dock()
        self.wait(proc, log, "disk full run")
        text = self.log_text()
        full = any(m in text for m in ("is full", "No space left", "not sealing more"))
        return full, f"{where} on a tiny ext4 with {free:,} bytes free" + (
            ", filled" if full else " (the clips fitted)"
        )

    # -- mending and checking -----------------------------------------------------------------
    def restore(self) -> None:
        """What an operator does after the fault: the gateway back, more disk space."""
        if self.link is not None:
            self.link.up()
        if self.disk is not None:  # the operator frees space, as the error says
            (self.disk.mount / "ballast").unlink(missing_ok=True)
        for point in mounted_under(self.mount_root):  # as the next daemon's start does
            subprocess.run(["umount", str(point)], check=False, capture_output=True)

    def check(self, recovered: bool) -> Findings:
        cameras = [(c.label, c.files, c.now_on_camera()) for c in self.cameras]
        return check(self.config, self.env(), cameras, recovered=recovered)

    def recover(self) -> None:
        if self.lab.backend == "s3":
            drain = subprocess.run(
                [*EVAULT, "store", "drain", "--until-empty"],
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
                check=False,
            )
            if drain.returncode != 0:
                tail = drain.stderr[-300:]
                self.findings.append(f"store drain exited {drain.returncode}: {tail}")
        proc, log = self.dock()
        code = self.wait(proc, log, "recovery run")
        if code not in (0, None):
            self.findings.append(f"the recovery dock exited {code}: {self.log_text()[-400:]}")

    def close(self, keep: bool) -> None:
        for point in mounted_under(self.dir):
            subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)
        for camera in self.cameras:
            camera.detach()
        if self.disk is not None:
            self.disk.close()
        if self.link is not None:
            self.link.down()
        if self.database is not None and self.lab.pg is not None:
            self.lab.pg.drop_database(self.database)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def run_round(lab: Lab, number: int, seed: int, kind: str | None = None) -> Outcome:
    """Build, break, check, mend, check; the round's folder is kept when something broke."""
    started = time.monotonic()
    chosen = kind or random.Random(seed).choice(lab.kinds())
    one = Round(lab, number, seed, chosen)
    outcome = Outcome(number, seed, chosen, False, "")
    try:
        one.prepare()
        outcome.cameras, outcome.clips = len(one.cameras), one.clip_count
        outcome.fired, outcome.detail = one.inject()
        one.restore()
        after_fault = one.check(recovered=False)
        outcome.violations += [f"after the fault: {v}" for v in after_fault.violations]
        one.recover()
        after = one.check(recovered=True)
        outcome.violations += [f"after recovery: {v}" for v in one.findings + after.violations]
    except Exception as exc:  # the round itself broke: a violation, never a silent pass
        outcome.violations.append(f"the round failed: {type(exc).__name__}: {exc}")
    finally:
        keep = lab.keep or bool(outcome.violations)
        one.close(keep)
        outcome.folder = one.dir if keep else None
        outcome.seconds = time.monotonic() - started
    return outcome
