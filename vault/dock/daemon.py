"""`evault dock`: the docking-station daemon.

udev says a camera arrived; the dock matches it to a profile, mounts it read-only in a
private directory, and hands it to a bounded pool of workers that run the same single-pass
ingest as `evault ingest`, one camera per worker, so a slow or broken camera never holds up
the others. Verified clips are erased only after a read-write remount for that step (IN-2).

Nothing is lost whatever happens to the camera or the daemon:
- a camera pulled out mid-copy: the clip being read is discarded (the store aborts the
  partial write), nothing is erased, the bay says so, and the next dock takes the rest;
- SIGTERM: no new camera is taken, each bay finishes the clip it is reading, erases nothing
  more, and the daemon exits;
- SIGKILL or a crash: at the next start, mounts left behind are released and the unfinished
  dock sessions are closed as "interrupted"; what was sealed stays sealed, and cameras still
  docked are taken again (already sealed clips are recognised, not stored twice).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import DockSession
from vault.dock.bays import Bay, Board
from vault.dock.control import DriverReport, drive
from vault.dock.events import UdevEvent
from vault.dock.match import decide
from vault.dock.mount import Mounted, Mounter
from vault.dock.status import Notifier, StatusServer
from vault.errors import VaultError
from vault.ingest.pipeline import ingest_volume
from vault.ingest.report import IngestReport
from vault.ingest.run import DockContext
from vault.ingest.volume import Volume
from vault.profiles import Profile
from vault.timeutil import iso

log = logging.getLogger(__name__)


def recover_unfinished(vault: Vault) -> list[str]:
    """Close the dock sessions a killed daemon of this station left open."""
    notes = []
    with vault.session() as session:
        rows = session.exec(
            select(DockSession).where(
                DockSession.station_id == vault.settings.station_id,
                col(DockSession.finished_at).is_(None),
                col(DockSession.bay).is_not(None),  # the dock's own, not a manual ingest
            )
        ).all()
        now = vault.clock.now()
        for dock in rows:
            dock.status = "interrupted"
            dock.finished_at = now
            dock.error = (
                "the dock daemon stopped during this dock (killed or crashed); sealed clips "
                "are kept, the rest stay on the camera for its next dock"
            )
            audit.append(
                session,
                vault.actor("dock"),
                at=now,
                action="dock.recovered",
                subject=f"dock:{dock.id}",
                detail={"bay": dock.bay, "sealed": dock.clips_sealed},
            )
            notes.append(f"dock session {dock.id} (bay {dock.bay}) was left open; closed")
        session.commit()
    return notes


def _mount_name(bay: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", bay)


class DockDaemon:
    def __init__(
        self,
        vault: Vault,
        *,
        mounter: Mounter | None = None,
        notifier: Notifier | None = None,
        status_socket: Path | None = None,
        on_bay_change: Callable[[Bay, str], None] | None = None,
    ) -> None:
        self.vault = vault
        self.on_bay_change = on_bay_change  # tests: act at an exact step of a bay
        self.settings = vault.settings.dock
        self.mounter = mounter or Mounter(
            vault.settings.mount_root, self.settings.mount_with, vault.settings.timezone
        )
        self.notifier = notifier or Notifier()
        self.status_socket = status_socket or vault.settings.home / "dock.sock"
        self.board = Board()
        self.stopping = threading.Event()
        self.started_at = vault.clock.now()
        self._executor = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="bay")
        self._futures: dict[str, Future[None]] = {}
        self._stops: dict[str, threading.Event] = {}
        self._drivers: dict[str, DriverReport] = {}  # by bay, until its storage appears
        self._server: StatusServer | None = None
        self._lock = threading.Lock()

    # -- life cycle --------------------------------------------------------------------------
    def start(self, serve_status: bool = True) -> list[str]:
        """Release what an earlier run left behind; start answering `dock status`."""
        notes = self.mounter.clean_stale() + recover_unfinished(self.vault)
        for note in notes:
            log.warning("%s", note)
        if serve_status:
            self._server = StatusServer(self.status_socket, self.snapshot)
            self._server.start()
        return notes

    def run(self, events: Iterable[UdevEvent | None]) -> None:
        """Handle events until stop(); a None event is a quiet tick (watchdog, status)."""
        self.notifier.ready(self.board.summary())
        log.info(
            "dock ready: %d workers, mounts under %s", self.settings.workers, self.mounter.root
        )
        last_ping = 0.0
        for event in events:
            if event is not None and not self.stopping.is_set():
                self.handle(event)
            now = time.monotonic()
            if now - last_ping >= self.settings.watchdog_s:
                last_ping = now
                self.notifier.watchdog()
                self.notifier.status(self.board.summary())
            if self.stopping.is_set():
                break

    def stop(self) -> None:
        """SIGTERM: take no new camera; every bay finishes or rolls back its current clip."""
        if not self.stopping.is_set():
            log.info("dock stopping: finishing the clips being read")
            self.stopping.set()
            with self._lock:
                for stop in self._stops.values():
                    stop.set()
            self.notifier.stopping("stopping: finishing current clips")

    def close(self) -> None:
        self.stop()
        self._executor.shutdown(wait=True)
        if self._server is not None:
            self._server.close()
            self._server = None

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Tests and --exit-when-idle: True once no bay is working."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                futures = list(self._futures.values())
            if all(f.done() for f in futures):
                return True
            time.sleep(0.05)
        return False

    def snapshot(self) -> dict[str, Any]:
        return {
            "station_id": self.vault.settings.station_id,
            "pid": os.getpid(),
            "started_at": iso(self.started_at),
            "stopping": self.stopping.is_set(),
            "workers": self.settings.workers,
            "summary": self.board.summary(),
            "bays": [bay.snapshot() for bay in self.board.bays()],
        }

    # -- events ------------------------------------------------------------------------------
    def handle(self, event: UdevEvent) -> None:
        try:
            if event.action in ("remove", "unbind"):
                self._removed(event)
            elif event.action in ("add", "change", "coldplug", "bind"):
                self._arrived(event)
        except Exception:  # one bad event must never stop the dock
            log.exception("event not handled: %s", event.describe())

    def _arrived(self, event: UdevEvent) -> None:
        decision = decide(event, self.vault.profiles)
        if decision.action == "ignore":
            log.debug("ignored: %s (%s)", event.describe(), decision.reason)
            return
        if decision.action == "unknown":
            log.warning("unknown device left untouched: %s: %s", event.describe(), decision.reason)
            self._audit(
                "dock.unknown_device",
                event.bay,
                {"ids": event.describe(), "reason": decision.reason},
            )
            return
        if self.stopping.is_set():
            log.info("stopping; not taking %s", event.describe())
            return
        assert decision.profile is not None
        with self._lock:
            current = self._futures.get(event.bay)
            if current is not None and not current.done():
                return  # this bay's camera is already being taken
            if decision.action == "driver":
                bay = Bay(event.bay, event.devname, decision.profile.name, self.vault.clock.now())
                bay.on_change = self.on_bay_change
                self.board.put(bay)
                future = self._executor.submit(self._drive, bay, event, decision.profile)
            else:
                bay = Bay(event.bay, event.devname, decision.profile.name, self.vault.clock.now())
                bay.on_change = self.on_bay_change
                self.board.put(bay)
                stop = threading.Event()
                self._stops[event.bay] = stop
                future = self._executor.submit(self._dock, bay, event, decision.profile, stop)
            self._futures[event.bay] = future
        log.info("camera in bay %s: %s (%s)", event.bay, event.describe(), decision.reason)

    def _removed(self, event: UdevEvent) -> None:
        bay = self.board.get(event.bay)
        if bay is None or bay.removed_at is not None:
            return
        if bay.devname and event.devname and event.devname != bay.devname:
            return  # another node of the same port (the USB device after its partition)
        if bay.state == "driving":
            return  # told to show its storage, the camera leaves the bus and comes back a disk
        bay.removed_at = self.vault.clock.now()
        if bay.active:
            log.warning("camera pulled out of bay %s while %s", bay.key, bay.state)
            with self._lock:
                stop = self._stops.get(bay.key)
            if stop is not None:
                stop.set()
        self._record_undock(bay)

    def _record_undock(self, bay: Bay) -> None:
        if bay.dock_id is None or bay.removed_at is None:
            return
        with self.vault.session() as session:
            dock = session.get(DockSession, bay.dock_id)
            if dock is None or dock.undocked_at is not None:
                return
            dock.undocked_at = bay.removed_at
            audit.append(
                session,
                self.vault.actor("dock"),
                at=bay.removed_at,
                action="dock.undocked",
                subject=f"dock:{bay.dock_id}",
                detail={"bay": bay.key, "state": bay.state},
            )
            session.commit()

    def _audit(self, action: str, bay: str, detail: dict[str, object]) -> None:
        with self.vault.session() as session:
            audit.append(
                session,
                self.vault.actor("dock"),
                at=self.vault.clock.now(),
                action=action,
                subject=f"bay:{bay}",
                detail=detail,
            )
            session.commit()

    def take_folder(self, path: Path) -> None:
        """A camera the desktop mounted (dock.watch_dirs): taken as it is, not remounted."""
        key = f"dir:{path.name}"[:64]  # like a port: short, and the same for the same camera
        if self.stopping.is_set():
            return
        with self._lock:
            current = self._futures.get(key)
            if current is not None and not current.done():
                return
            bay = Bay(key, None, None, self.vault.clock.now())
            self.board.put(bay)
            stop = threading.Event()
            self._stops[key] = stop
            self._futures[key] = self._executor.submit(self._folder, bay, path, stop)
        log.info("camera folder appeared: %s", path)

    def _folder(self, bay: Bay, path: Path, stop: threading.Event) -> None:
        try:
            context = DockContext(
                bay=bay.key,
                docked_at=bay.docked_at,
                on_dock=lambda dock_id: setattr(bay, "dock_id", dock_id),
            )
            report = ingest_volume(
                self.vault,
                path,
                erase=self.settings.erase,
                progress=bay,
                context=context,
                stop=stop,
            )
            bay.profile = report.profile
            self._conclude(bay, report)
        except VaultError as exc:
            bay.end("failed", str(exc), self.vault.clock.now())
            log.error("%s: %s", path, exc)
        except Exception as exc:
            bay.end("failed", f"internal error: {exc}", self.vault.clock.now())
            log.exception("%s failed", path)

    # -- a camera that must be told to show its storage -------------------------------------
    def _drive(self, bay: Bay, event: UdevEvent, profile: Profile) -> None:
        """The camera's control driver; a failure (a library crash or hang included) fails
        this bay alone, with its reason, and the dock carries on."""
        bay.set_state("driving")
        try:
            report = drive(self.vault, event, profile, self._audit)
        except VaultError as exc:
            call = getattr(exc, "call", None)
            log.error("bay %s: camera driver %s: %s", event.bay, profile.driver, exc)
            detail: dict[str, object] = {"driver": profile.driver, "error": str(exc)}
            if call:
                detail["call"] = call
            self._audit("device.driver_failed", event.bay, detail)
            bay.end("failed", f"camera driver {profile.driver}: {exc}", self.vault.clock.now())
            return
        except Exception as exc:
            log.exception("bay %s: camera driver %s failed", event.bay, profile.driver)
            bay.end("failed", f"internal error: {exc}", self.vault.clock.now())
            return
        bay.device_id = report.device_id
        self._drivers[event.bay] = report  # until its storage appears on this port
        bay.end("done", "switched to mass storage; waiting for its storage", self.vault.clock.now())

    # -- a camera's storage ------------------------------------------------------------------
    def _dock(self, bay: Bay, event: UdevEvent, profile: Profile, stop: threading.Event) -> None:
        mounted: Mounted | None = None
        try:
            if self.settings.settle_s and stop.wait(self.settings.settle_s):
                bay.end("failed", "the camera left before it was mounted", self.vault.clock.now())
                return
            if event.devname is None or event.fs_type is None:
                raise VaultError("udev gave no device node or filesystem type")
            mounted = self.mounter.mount(event.devname, event.fs_type, _mount_name(bay.key))
            bay.set_state("mounted")
            report = self._ingest(bay, event, profile, mounted, stop)
            self._conclude(bay, report)
        except VaultError as exc:
            bay.end("failed", str(exc), self.vault.clock.now())
            log.error("bay %s: %s", bay.key, exc)
        except Exception as exc:
            bay.end("failed", f"internal error: {exc}", self.vault.clock.now())
            log.exception("bay %s failed", bay.key)
        finally:
            if mounted is not None:
                try:
                    self.mounter.unmount(mounted)
                except VaultError as exc:
                    log.error("bay %s: %s", bay.key, exc)
            self._record_undock(bay)

    def _ingest(
        self, bay: Bay, event: UdevEvent, profile: Profile, mounted: Mounted, stop: threading.Event
    ) -> IngestReport:
        told = self._drivers.pop(bay.key, None)

        def on_dock(dock_id: int) -> None:
            bay.dock_id = dock_id

        camera = told.camera if told else None
        context = DockContext(
            bay=bay.key,
            devname=event.devname,
            fs_type=event.fs_type,
            fs_label=event.fs_label,
            usb_id=event.usb_id,
            usb_serial=event.serial,
            mounted_with=mounted.method,
            true_mtime=mounted.true_mtime(self.vault.settings.timezone),
            docked_at=bay.docked_at,
            on_dock=on_dock,
            driver_info=told.info if told else {},
            device_id=told.device_id if told else None,
            officer_id=told.officer_id if told else None,
            device_time=told.device_time if told else None,
            measured_at=told.measured_at if told else None,
            battery_percent=camera.battery_percent if camera else None,
            camera_officer_id=camera.officer_id if camera else None,
            camera_officer_name=camera.officer_name if camera else None,
            camera_unit_id=camera.unit_id if camera else None,
            camera_unit_name=camera.unit_name if camera else None,
        )

        def remount_rw(volume: Volume) -> Volume:
            volume.close()
            self.mounter.remount_rw(mounted)
            return Volume.open(mounted.target, self.vault.settings.ingest.max_depth)

        return ingest_volume(
            self.vault,
            mounted.target,
            profile_name=profile.name,
            label=event.fs_label,
            erase=self.settings.erase,
            progress=bay,
            context=context,
            stop=stop,
            remount_rw=remount_rw,
        )

    def _conclude(self, bay: Bay, report: IngestReport) -> None:
        bay.device_id, bay.erased = report.device_id, len(report.erased)
        now = self.vault.clock.now()
        sealed = sum(c.status == "sealed" for c in report.clips)
        kept = len(report.clips) - len(report.erased)
        summary = f"{len(report.clips)} clips taken ({sealed} new), {len(report.erased)} erased"
        if bay.removed_at is not None:
            bay.end(
                "failed",
                f"camera removed mid-copy: {summary}; {len(report.failed)} not read and "
                f"{kept} kept on the camera for its next dock",
                now,
            )
        elif report.failed:
            path, reason = report.failed[0]
            bay.end(
                "failed", f"{len(report.failed)} clips not taken ({path}: {reason}); {summary}", now
            )
        elif not report.ok:
            bay.end("failed", f"a sealed copy did not verify; nothing of it erased; {summary}", now)
        elif self.stopping.is_set() and any("stopping" in p for p in report.problems):
            bay.end("failed", f"the station stopped: {summary}; the rest stays on the camera", now)
        else:
            bay.end("done", summary, now)
        log.info("bay %s: %s: %s", bay.key, bay.state, bay.reason)


def replay_events(
    events: list[UdevEvent], daemon: DockDaemon, poll_s: float, exit_when_idle: bool
) -> Iterable[UdevEvent | None]:
    """Recorded events, then quiet ticks: until idle (exit_when_idle) or stopped."""
    yield from events
    while not daemon.stopping.is_set():
        if exit_when_idle and daemon.wait_idle(timeout=poll_s):
            return
        if not exit_when_idle:
            time.sleep(poll_s)
        yield None
