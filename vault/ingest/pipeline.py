"""One-shot ingest of a mounted camera volume: scan, then for each clip ONE read pass
(hash + store), seal, record, verify by reading the sealed copy back, and only then,
if asked, erase verified clips from the camera (IN-2, IN-3, IN-6)."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session

from vault.context import Vault
from vault.db import audit, upsert
from vault.db.models import Device, DockSession, Evidence, Officer, Sighting
from vault.errors import VaultError, VolumeError
from vault.faults import checkpoint
from vault.ingest import records, values
from vault.ingest.custody_logs import seal_logs
from vault.ingest.deviceinfo import DeviceInfo, read_device_info
from vault.ingest.erase import collect
from vault.ingest.erase import erase as erase_verified
from vault.ingest.plan import Candidate, most_common, plan
from vault.ingest.report import ClipResult, IngestReport, NoProgress, Progress
from vault.ingest.run import DockContext, ReadClip, Remount, Run
from vault.ingest.sealer import Sealer
from vault.ingest.stream import Streamer
from vault.ingest.volume import Volume, VolumeFile
from vault.profiles import Profile, choose_profile
from vault.retention_rules import EvidenceFacts, decide
from vault.store.base import PutResult
from vault.store.spool import SpoolFull
from vault.timeutil import iso, local_to_utc

log = logging.getLogger(__name__)

NOT_IMMUTABLE = (
    "sealed files are NOT immutable on this station (no CAP_LINUX_IMMUTABLE, or a filesystem "
    "without chattr +i): only their mode protects them; see README, 'Immutable files'"
)


def start_dock(
    vault: Vault,
    session: Session,
    volume: Volume,
    profile: Profile,
    info: DeviceInfo,
    device_id: str | None,
    officer_id: str | None,
    station_time: datetime,
    context: DockContext | None = None,
) -> DockSession:
    device_time, measured_at = info.device_time, station_time
    if device_time is None and context is not None and context.device_time is not None:
        device_time, measured_at = context.device_time, context.measured_at or station_time
    offset = (device_time - measured_at).total_seconds() if device_time else None
    device = officer = None
    if device_id:
        device = upsert.upsert_device(
            session,
            device_id,
            profile.name,
            station_time,
            model=info.model,
            vendor=info.vendor,
            firmware=info.firmware,
        )
    if officer_id:
        officer = upsert.upsert_officer(session, officer_id, info.unit)
    dock = DockSession(
        station_id=vault.settings.station_id,
        device_pk=device.id if device else None,
        officer_pk=officer.id if officer else None,
        profile=profile.name,
        volume=volume.shown_root,
        started_at=station_time,
        device_info={**(context.driver_info if context else {}), **info.raw},
        device_time_raw=info.device_time_raw,
        device_time=device_time,
        station_time=station_time,
        clock_offset_s=offset,
        battery_percent=info.battery_percent,
        free_bytes=info.free_bytes,
    )
    if context is not None:
        if dock.battery_percent is None:
            dock.battery_percent = context.battery_percent
        for name in ("bay", "devname", "fs_type", "fs_label", "usb_id", "usb_serial"):
            setattr(dock, name, getattr(context, name))
        for name in ("officer_id", "officer_name", "unit_id", "unit_name"):
            setattr(dock, f"camera_{name}", getattr(context, f"camera_{name}"))
        dock.mounted_with, dock.docked_at = context.mounted_with, context.docked_at
    session.add(dock)
    session.flush()
    actor = vault.actor("ingest")
    audit.append(
        session,
        actor,
        at=station_time,
        action="dock.started",
        subject=f"dock:{dock.id}",
        detail={
            "device_id": device_id,
            "profile": profile.name,
            "volume": volume.shown_root,
            "clock_offset_s": offset,
            **({"bay": context.bay} if context and context.bay else {}),
        },
    )
    session.commit()
    return dock


def ingest_volume(
    vault: Vault,
    path: Path,
    *,
    profile_name: str | None = None,
    label: str | None = None,
    erase: bool = False,
    progress: Progress | None = None,
    context: DockContext | None = None,
    stop: threading.Event | None = None,
    remount_rw: Remount | None = None,
) -> IngestReport:
    """Seal every clip of the volume at path. stop: when set, no further clip is started and
    nothing is erased (the dock is shutting down). remount_rw: how to make the camera writable
    for the erase step (the dock mounts cameras read-only); None: the volume is used as is."""
    settings = vault.settings
    with Volume.open(path, settings.ingest.max_depth) as volume:
        if len(volume.shown_root) > values.column_length(DockSession, "volume"):
            raise VolumeError("the volume's path is longer than the records hold")
        profile = choose_profile(vault.profiles, volume.root_names(), label, profile_name)
        info = read_device_info(volume, profile, label, settings.timezone)
        station_time = vault.clock.now()
        name_problems: list[str] = []
        candidates, skipped = plan(volume, profile, name_problems)
        names = [c.name for c in candidates if c.name]
        told = context or DockContext()
        device_id = info.device_id or told.device_id or most_common([n.device_id for n in names])
        officer_id = (
            info.officer_id or told.officer_id or most_common([n.officer_id for n in names])
        )
        device_id = values.identifier(
            device_id, "the device id", values.column_length(Device, "device_id"), name_problems
        )
        officer_id = values.identifier(
            officer_id, "the officer id", values.column_length(Officer, "officer_id"), name_problems
        )
        with vault.session() as session:
            dock = start_dock(
                vault, session, volume, profile, info, device_id, officer_id, station_time, context
            )
        assert dock.id is not None
        if context is not None and context.on_dock is not None:
            context.on_dock(dock.id)
        report = IngestReport(
            dock_id=dock.id,
            profile=profile.name,
            device_id=device_id,
            officer_id=officer_id,
            model=info.model,
            device_time=dock.device_time,
            station_time=station_time,
            offset_s=dock.clock_offset_s,
            skipped=skipped,
            problems=[*info.problems, *name_problems],
        )
        if device_id is None:
            report.problems.append("the camera's device id is unknown (IN-4)")
        for name in vault.store.clean_debris():
            report.problems.append(f"removed a partial write left by an earlier crash: {name}")
        run = Run(vault, volume, profile, info, dock, report, erase, progress or NoProgress())
        run.stop, run.remount_rw, run.context = stop, remount_rw, context
        try:
            _process(run, candidates)
        finally:
            if run.volume is not volume:
                run.volume.close()  # the read-write volume of the erase step
        return report


MAX_UNRECORDED = 256  # clips read ahead of their records at most
# Records (and verifications) wait, while reading goes on, until this many clips or bytes
# are ready for one commit: a big clip's read-back starts as soon as it is sealed.
GROUP_CLIPS, GROUP_BYTES = 32, 32 << 20


def _process(run: Run, candidates: list[Candidate]) -> None:
    """Clip N is read, hashed and written on this thread while clip N-1 is sealed (fsync,
    rename) on the sealing thread and read back on the verifying one. The records of the
    clips whose seals are in go in together (one commit for several), in the order read."""
    run.progress.begin(len(candidates), sum(c.item.size for c in candidates))
    run.progress.phase("reading")
    streamer = Streamer(run.vault.settings.ingest.chunk_size)
    sealer = Sealer(run.vault.store)
    verifier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify")
    error: str | None = None
    try:
        with run.vault.session() as session:
            for done, candidate in enumerate(candidates):
                if run.stop is not None and run.stop.is_set():
                    run.stopped = True
                    run.report.problems.append(
                        f"the station is stopping: {len(candidates) - done} clips left on "
                        "the camera for its next dock"
                    )
                    break
                try:
                    read = _read_one(run, session, streamer, sealer, candidate)
                except SpoolFull:
                    _record_ready(run, session, verifier, wait=True)  # sealed: kept
                    raise  # the store takes nothing now: the camera is left as it is, whole
                except Exception as exc:  # no file may keep the rest of the camera unsealed
                    _failed(run, session, candidate.item.rel, exc)
                    read = None
                if read is not None:
                    run.unrecorded.append(read)
                checkpoint("ingest.read")  # a clip read and handed to the sealing thread
                wait = len(run.unrecorded) >= MAX_UNRECORDED
                _record_ready(run, session, verifier, wait=wait)
                collect(run, session, wait=False, least=(GROUP_CLIPS, GROUP_BYTES))
            _record_ready(run, session, verifier, wait=True)
            run.progress.phase("verifying")
            collect(run, session, wait=True)
            if not run.stopped:
                seal_logs(run, session)
            if run.erase and not run.stopped:
                run.progress.phase("erasing")
                erase_verified(run, session)
    except BaseException as exc:
        error = str(exc) or type(exc).__name__
        raise
    finally:
        streamer.close()
        sealer.close(abandon=error is not None)
        verifier.shutdown(wait=True)
        _finish(run, error)


def _failed(run: Run, session: Session, rel: str, exc: Exception) -> None:
    session.rollback()
    log.error("ingest of %s failed", rel, exc_info=exc)
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    run.report.failed.append((rel, f"not sealed: {reason}"))
    run.progress.file_done(rel, "failed")


def _clip_times(
    run: Run, candidate: Candidate, mtime_ns: int
) -> tuple[str | None, str, datetime | None]:
    """The camera's own time for a clip: (as stated, source, as UTC). A time the records
    cannot compute with (month 13, year 0000 or 9999) is kept as the camera wrote it, with
    the source "name_invalid" or "mtime_invalid", and no UTC time; a profile that falls
    back to the modification time does so for such a name too (as for a name with none)."""
    tz = run.vault.settings.timezone
    name = candidate.name
    if name is not None and name.time_text is not None:
        stated = name.camera_time
        if stated is not None and values.usable_local(stated):
            return stated.isoformat(sep=" "), "file_name", local_to_utc(stated, tz)
    mtime_fallback = run.profile.naming.time_fallback == "mtime"
    if name is not None and name.time_text is not None and not mtime_fallback:
        run.bad_times += 1
        return name.time_text[: values.column_length(Evidence, "camera_time")], "name_invalid", None
    if mtime_fallback:
        true_ns = _true_mtime_ns(run, mtime_ns)
        utc = _instant(true_ns)
        if utc is None:
            run.bad_times += 1
            return str(true_ns), "mtime_invalid", None
        local = utc.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
        return local.isoformat(sep=" "), "mtime", utc
    return None, "none", None


def _instant(ns: int) -> datetime | None:
    """A file time in nanoseconds as UTC, if the records can use it."""
    try:
        utc = datetime.fromtimestamp(ns / 1e9, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return utc if values.usable_instant(utc) else None


def _true_mtime_ns(run: Run, shown_ns: int) -> int:
    """A file's modification time as the camera wrote it, whatever driver shows it."""
    if run.context is not None and run.context.true_mtime is not None:
        return run.context.true_mtime(shown_ns)
    return shown_ns


def _read_one(
    run: Run, session: Session, streamer: Streamer, sealer: Sealer, candidate: Candidate
) -> ReadClip | None:
    """One read pass over a clip (hash + write), its seal handed to the sealing thread;
    None when the clip was not read whole (a failure or a skip, reported here)."""
    item, vault = candidate.item, run.vault
    run.progress.file_started(item.rel, item.size)
    too_long = _too_long(item)
    if too_long:
        run.report.failed.append((item.rel, f"not sealed: {too_long}"))
        run.progress.file_done(item.rel, "failed")
        return None
    try:
        fd, st = run.volume.open_file(item)
    except VolumeError as exc:
        run.report.failed.append((item.rel, f"not read: {exc}"))
        run.progress.file_done(item.rel, "failed")
        return None
    camera_time, source, recorded_at = _clip_times(run, candidate, st.st_mtime_ns)
    corrected = values.shifted(recorded_at, run.dock.clock_offset_s)
    docked = run.dock.started_at
    # A new clip is routine (RT-1) until someone classifies it or links it to a case.
    routine = EvidenceFacts(corrected, docked, "routine", None)
    retain_until = decide(routine, vault.settings.retention).retain_until
    assert retain_until is not None
    try:
        # The clip's room is taken before its first byte: one that cannot fit fails here,
        # and never fills the disk under the seals of the clips read before it.
        writer = vault.store.begin_put(st.st_size)
    except SpoolFull:
        os.close(fd)
        raise
    except VaultError as exc:
        os.close(fd)
        run.report.failed.append((item.rel, f"not sealed: {exc}"))
        run.progress.file_done(item.rel, "failed")
        return None
    try:
        sha, size = streamer.copy(fd, writer, run.progress.advance)
        after = os.fstat(fd)
        if size != st.st_size or not _unchanged(run.volume, st, after):
            raise VolumeError("the file changed while it was being read")
        keep = run.retain_of.get(sha)  # bytes read before in this run, maybe not recorded yet
        if keep is None:
            known = records.known_bytes(vault, session, sha)
            if known is not None and known.purged_at is not None:
                writer.abort()
                run.report.skipped.append(
                    (
                        item.rel,
                        f"evidence {known.evidence_id} (these bytes) was purged on "
                        f"{iso(known.purged_at)} when its retention ended: not sealed again, "
                        "kept on the camera",
                    )
                )
                run.progress.file_done(item.rel, "skipped")
                return None
            # RT-1, RT-4: the first docking counts. Bytes already sealed keep the retention
            # their record holds (store and record one date); only a new clip starts a new one.
            keep = (known and known.retain_until) or retain_until
            run.retain_of[sha] = keep
        sealed = sealer.submit(writer, sha, size, keep)
    except VaultError as exc:
        writer.abort()
        run.report.failed.append((item.rel, f"not sealed: {exc}"))
        run.progress.file_done(item.rel, "failed")
        return None
    except BaseException:
        writer.abort()
        raise
    finally:
        os.close(fd)
    return ReadClip(
        candidate, st, sha, size, camera_time, source, recorded_at, corrected, retain_until, sealed
    )


def _record_ready(run: Run, session: Session, verifier: ThreadPoolExecutor, wait: bool) -> None:
    """Record the clips whose seals are in, oldest first: all of them when WAIT, else those
    whose seals are done, up to the first still being sealed."""
    if not wait:  # a group worth a commit: many small clips, or one big one
        count = size = 0
        for read in run.unrecorded:
            if not read.sealed.done():
                break
            count, size = count + 1, size + read.size
        if count < GROUP_CLIPS and size < GROUP_BYTES:
            return
    ready: list[ReadClip] = []
    while run.unrecorded and (wait or run.unrecorded[0].sealed.done()):
        ready.append(run.unrecorded.popleft())
    if ready:
        run.progress.phase("sealing")
        _record(run, session, verifier, ready)
        run.progress.phase("reading")


def _record(
    run: Run, session: Session, verifier: ThreadPoolExecutor, ready: list[ReadClip]
) -> None:
    """One commit for the records of READY (a clip counts as sealed only once it is made);
    if it fails, each clip is recorded alone, so one bad clip fails alone."""
    vault = run.vault
    clips: list[tuple[ReadClip, PutResult, records.SealedClip]] = []
    for read in ready:
        item = read.candidate.item
        try:
            put = read.sealed.result()
        except VaultError as exc:
            run.report.failed.append((item.rel, f"not sealed: {exc}"))
            run.progress.file_done(item.rel, "failed")
            continue
        except Exception as exc:
            _failed(run, session, item.rel, exc)
            continue
        checkpoint("ingest.sealed")
        if put.created and not put.immutable and NOT_IMMUTABLE not in run.report.problems:
            run.report.problems.append(NOT_IMMUTABLE)
        try:
            clips.append((read, put, _sealed_clip(run, session, read, put)))
        except Exception as exc:
            _failed(run, session, item.rel, exc)
    if not clips:
        return
    now, actor = vault.clock.now(), vault.actor("ingest")
    groups = [clips]
    while groups:
        group = groups.pop(0)
        try:
            results = records.commit_sealed_group(
                session,
                run.dock,
                [c for _, _, c in group],
                now,
                actor,
                run.newly_sealed,
                vault.store,
            )
        except Exception as exc:
            session.rollback()
            if len(group) == 1:
                _failed(run, session, group[0][0].candidate.item.rel, exc)
            else:
                groups[:0] = [[each] for each in group]  # one by one, in the order read
            continue
        for (read, put, _), (evidence, outcome) in zip(group, results, strict=True):
            _recorded(run, verifier, read, put, evidence, outcome)


def _sealed_clip(run: Run, session: Session, read: ReadClip, put: PutResult) -> records.SealedClip:
    candidate, item, st = read.candidate, read.candidate.item, read.stat
    officer_id = (candidate.name and candidate.name.officer_id) or run.report.officer_id
    return records.SealedClip(
        sha256=read.sha256,
        size=read.size,
        kind=candidate.name.kind if candidate.name else "unclassified",
        path=item.rel,
        file_name=item.rel.rpartition("/")[2],
        folder=item.dir_rel,
        important=candidate.important,
        sequence=candidate.name.sequence if candidate.name else None,
        camera_time=read.camera_time,
        camera_time_source=read.camera_time_source,
        recorded_at=read.recorded_at,
        recorded_at_corrected=read.recorded_at_corrected,
        mtime=_instant(_true_mtime_ns(run, st.st_mtime_ns)),
        officer_pk=_officer_pk(run, session, officer_id),
        storage_backend=put.backend or run.vault.store.backend,
        storage_key=put.key,
        storage_version=put.version,
        immutable=put.immutable,
        retain_until=read.retain_until,
    )


def _recorded(
    run: Run,
    verifier: ThreadPoolExecutor,
    read: ReadClip,
    put: PutResult,
    evidence: Evidence,
    outcome: str,
) -> None:
    """What follows a clip's committed record: its read-back is queued."""
    vault, item, sha = run.vault, read.candidate.item, read.sha256
    assert evidence.id is not None
    checkpoint("ingest.recorded")
    run.read_stats[item.rel] = read.stat
    if put.created and put.key != evidence.storage_key and vault.store.provisional(put.key):
        # A provisional copy (spooled during an outage) of bytes already sealed under another
        # key: no record points at it, so it goes (else it would stay an orphan for ever).
        # Plain stores have none: for them this is nothing. A copy that reached S3 (a re-dock
        # after the outage, before the drain) is not provisional and stays for the uploader.
        vault.store.release_unrecorded(put.key)
    if outcome in ("sealed", "unclassified"):
        run.newly_sealed.add(sha)
    spooled = vault.store.provisional(evidence.storage_key)
    kind = read.candidate.name.kind if read.candidate.name else "unclassified"
    run.report.clips.append(
        ClipResult(item.rel, sha, read.size, evidence.id, outcome, kind, spooled=spooled)
    )
    # Verify what this run sealed, what was never verified, and all that may be erased.
    must_verify = put.created or evidence.status != "verified" or run.erase
    if must_verify and evidence.id not in run.pending and evidence.id not in run.verified:
        run.pending[evidence.id] = verifier.submit(vault.store.verify, put.key, sha, read.size)
        run.rows[evidence.id] = evidence  # the session finds it when the result is recorded
    run.progress.file_done(item.rel, outcome)


def _unchanged(volume: Volume, before: os.stat_result, after: os.stat_result) -> bool:
    """Is the file as it was when opened? Size and modification time, and the change time
    where the filesystem keeps one (rewriting in place and setting the times back shows
    there)."""
    same = (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    if volume.ctime_trusted:
        same = same and after.st_ctime_ns == before.st_ctime_ns
    return same


def _too_long(item: VolumeFile) -> str | None:
    """Why the records cannot hold this file's name, if they cannot."""
    file_name = item.rel.rpartition("/")[2]
    for what, text, limit in (
        ("file name", file_name, values.column_length(Evidence, "file_name")),
        ("folder", item.dir_rel, values.column_length(Evidence, "camera_folder")),
        ("path", item.rel, values.column_length(Sighting, "path")),
    ):
        if len(text) > limit:
            shown = f"{len(text)} characters, at most {limit}"
            return f"its {what} is longer than the records hold ({shown})"
    return None


def _officer_pk(run: Run, session: Session, officer_id: str | None) -> int | None:
    if not officer_id:
        return None
    if officer_id not in run.officers:
        officer = upsert.upsert_officer(session, officer_id, run.info.unit)
        session.commit()
        assert officer.id is not None
        run.officers[officer_id] = officer.id
    return run.officers[officer_id]


def _finish(run: Run, error: str | None) -> None:
    report = run.report
    if run.bad_times:
        report.problems.append(
            f"{run.bad_times} clips carry a time that is no usable date (a month 13, a year "
            "0000, ...): kept as the camera wrote it (camera_time_source name_invalid or "
            "mtime_invalid); their retention counts from the docking"
        )
    with run.vault.session() as session:
        dock = session.get_one(DockSession, report.dock_id)
        dock.finished_at = run.vault.clock.now()
        dock.status = "failed" if error else ("done" if report.ok else "incomplete")
        if run.stopped and not error:
            dock.status = "interrupted"
        dock.clips_erased = len(report.erased)
        dock.error = error or "; ".join(f"{p}: {r}" for p, r in report.failed) or None
        dock.clips_seen = len(report.clips) + len(report.failed)
        dock.clips_sealed = len(run.newly_sealed)
        dock.bytes_read = sum(c.size for c in report.clips)
        actor = run.vault.actor("ingest")
        audit.append(
            session,
            actor,
            at=dock.finished_at,
            action="dock.finished",
            subject=f"dock:{dock.id}",
            detail={
                "status": dock.status,
                "sealed": dock.clips_sealed,
                "seen": dock.clips_seen,
                "erased": len(report.erased),
            },
        )
        session.commit()
