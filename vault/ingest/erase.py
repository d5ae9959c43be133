"""The last stages of an ingest: record the read-back verifications, then erase from the
camera only what was sealed, verified and is unchanged since it was read (IN-2): same
inode, size, modification and change time; where the volume could be written while it was
read and its filesystem keeps no change time (FAT, FUSE), read again and hashed (README,
"Erasing")."""

from __future__ import annotations

from sqlmodel import Session

from vault.errors import VaultError, VolumeError
from vault.faults import checkpoint
from vault.ingest import records
from vault.ingest.report import ClipResult
from vault.ingest.run import Run


def collect(run: Run, session: Session, wait: bool, least: tuple[int, int] = (1, 0)) -> None:
    """Record finished verifications (all of them when wait; else once at least LEAST
    (clips, bytes) are done), those found together in one commit: a clip counts as
    verified (and may be erased) only once that commit is made."""
    done = []
    for evidence_id, future in list(run.pending.items()):
        if not wait and not future.done():
            continue
        done.append((evidence_id, future.result()))
    if not wait and len(done) < least[0] and sum(r.size or 0 for _, r in done) < least[1]:
        done = []
    if done:
        now, actor = run.vault.clock.now(), run.vault.actor("ingest")
        try:
            for evidence_id, result in done:
                records.record_verification(
                    session, evidence_id, result.ok, result.reason, now, actor, commit=False
                )
            session.commit()
        except BaseException:
            session.rollback()
            raise
        for evidence_id, result in done:
            del run.pending[evidence_id]
            run.rows.pop(evidence_id, None)
            run.verified[evidence_id] = result
            checkpoint("ingest.verified")
    for clip in run.report.clips:
        if clip.evidence_id in run.verified:
            result = run.verified[clip.evidence_id]
            clip.verified, clip.verify_error = result.ok, result.reason


def erasable(run: Run) -> list[ClipResult]:
    erasable = []
    for clip in run.report.clips:
        if clip.kind == "unclassified" or clip.verified is not True:
            continue
        if clip.spooled:  # kept until its S3 copy verifies (vault.uploader)
            run.report.problems.append(f"{clip.path}: sealed in the local spool; kept on camera")
            continue
        erasable.append(clip)
    return erasable


def erase(run: Run, session: Session) -> None:
    """IN-2: only clips whose sealed copy was read back and matched in this run."""
    erasable_clips = erasable(run)
    if not erasable_clips:
        return
    same_mount = True
    read_only_when_read = run.volume.read_only  # the volume the clips were read from
    if run.remount_rw is not None:
        try:
            run.volume = run.remount_rw(run.volume)
        except VaultError as exc:
            run.report.problems.append(f"the camera could not be made writable: {exc}")
            return
        same_mount = False
    by_rel = {f.rel: f for f in run.volume.files}
    for clip in erasable_clips:
        if clip.path not in by_rel:
            run.report.problems.append(f"{clip.path}: no longer on the camera; nothing erased")
            continue
        try:
            run.volume.unlink(
                by_rel[clip.path],
                run.read_stats[clip.path],
                same_mount=same_mount,
                read_only_when_read=read_only_when_read,
                sha256=clip.sha256,
                chunk_size=run.vault.settings.ingest.chunk_size,
            )
        except VolumeError as exc:
            run.report.problems.append(f"{clip.path}: {exc}")
            continue
        except OSError as exc:
            if exc.errno == 30:  # EROFS
                run.report.problems.append("the volume is mounted read-only; nothing was erased")
                return
            run.report.problems.append(f"{clip.path}: not erased: {exc.strerror}")
            continue
        checkpoint("ingest.erased")
        run.report.erased.append(clip.path)
        records.record_erased(
            session,
            run.report.dock_id,
            clip.path,
            clip.evidence_id,
            run.vault.clock.now(),
            run.vault.actor("ingest"),
        )
