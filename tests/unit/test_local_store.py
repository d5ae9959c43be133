"""The local WORM store refuses by itself what the regulations forbid (IN-3, IN-6, RT-4)."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vault.errors import ObjectMissing, RetentionLocked, StoreError
from vault.store import immutable, local
from vault.store.local import LocalWormStore

NOW = datetime(2026, 11, 23, tzinfo=UTC)
LATER = NOW + timedelta(days=365)


def put(store: LocalWormStore, data: bytes, until: datetime = LATER, claim: str | None = None):
    writer = store.begin_put()
    try:
        writer.write(data)
        return writer.commit(claim or hashlib.sha256(data).hexdigest(), len(data), until)
    except BaseException:
        writer.abort()
        raise


@pytest.fixture
def store(tmp_path: Path) -> LocalWormStore:
    return LocalWormStore(tmp_path / "store", immutable="off")


def test_object_is_content_addressed_read_only_and_verifies(store: LocalWormStore) -> None:
    result = put(store, b"clip bytes")
    sha = hashlib.sha256(b"clip bytes").hexdigest()
    assert result.created and result.key == f"sha256/{sha[:2]}/{sha[2:4]}/{sha}"
    path = store.path_for(result.key)
    assert path.read_bytes() == b"clip bytes"
    assert path.stat().st_mode & 0o777 == 0o400  # the vault alone reads it (issue 13)
    assert store.verify(result.key, sha, 10).ok
    assert not list((store.root / "tmp").iterdir()), "no temporary file left behind"


def test_same_bytes_again_is_a_no_op_returning_the_existing_object(store: LocalWormStore) -> None:
    """IN-6: duplicates are stored once."""
    first, second = put(store, b"same"), put(store, b"same")
    assert first.key == second.key and first.created and not second.created
    assert len(list(store.keys())) == 1


def test_sealed_object_is_never_overwritten(store: LocalWormStore) -> None:
    """IN-3: even a writer claiming the same digest for other bytes cannot replace an object."""
    original = put(store, b"original")
    forged = put(store, b"forged!!", claim=hashlib.sha256(b"original").hexdigest())
    assert not forged.created
    assert store.path_for(original.key).read_bytes() == b"original"
    assert store.path_for(original.key).stat().st_mode & 0o222 == 0
    if os.geteuid() != 0:  # root ignores modes; test_immutable_flag_... covers root
        with pytest.raises(PermissionError):
            store.path_for(original.key).open("r+b")


def test_delete_before_retain_until_or_under_hold_is_refused(store: LocalWormStore) -> None:
    """RT-4: only expired objects without a hold may go, and only through the store."""
    key = put(store, b"evidence", until=LATER).key
    with pytest.raises(RetentionLocked, match="retained until"):
        store.delete(key, now=NOW)
    store.set_legal_hold(key, True)
    with pytest.raises(RetentionLocked, match="legal hold"):
        store.delete(key, now=LATER + timedelta(days=1))
    store.set_legal_hold(key, False)
    store.delete(key, now=LATER + timedelta(days=1))
    assert not store.exists(key)


def test_retention_can_grow_but_never_shrink(store: LocalWormStore) -> None:
    key = put(store, b"evidence", until=LATER).key
    store.extend_retention(key, LATER + timedelta(days=30))
    with pytest.raises(RetentionLocked, match="cannot be shortened"):
        store.extend_retention(key, LATER)
    assert store.stat(key).retain_until == LATER + timedelta(days=30)
    # A second put of the same bytes with an earlier date does not shorten it either.
    put(store, b"evidence", until=NOW)
    assert store.stat(key).retain_until == LATER + timedelta(days=30)


def test_object_without_retention_record_is_never_deleted(store: LocalWormStore) -> None:
    key = put(store, b"evidence").key
    sha = key.split("/")[3]
    shutil.rmtree(store.root / "records" / "retention" / sha[:2] / sha)
    with pytest.raises(RetentionLocked):
        store.delete(key, now=LATER + timedelta(days=9999))


def test_retention_lives_in_sealed_records_that_an_editable_file_cannot_shorten(
    store: LocalWormStore,
) -> None:
    """Issue 15: format 1 kept retain-until in a plain JSON file; editing it let the purge
    delete early. Now a sidecar written beside the records is not even read."""
    key = put(store, b"evidence", until=LATER).key
    sha = key.split("/")[3]
    series = sorted((store.root / "records" / "retention" / sha[:2] / sha).iterdir())
    assert [p.name for p in series] == ["000001.json"]
    assert series[0].stat().st_mode & 0o777 == 0o400
    forged = store.root / "retention" / sha[:2] / f"{sha}.json"
    forged.parent.mkdir(parents=True)
    forged.write_text(json.dumps({"sha256": sha, "retain_until": "2000-01-01T00:00:00+00:00"}))
    with pytest.raises(RetentionLocked, match="retained until"):
        store.delete(key, now=NOW + timedelta(days=1))
    assert store.stat(key).retain_until == LATER


def test_a_format_1_store_is_turned_into_records_once_and_its_files_never_read_again(
    store: LocalWormStore,
) -> None:
    key = put(store, b"evidence", until=LATER).key
    sha = key.split("/")[3]
    # The store as format 1 left it: an editable retention file, no series, not converted.
    shutil.rmtree(store.root / "records" / "retention")
    (store.root / "records" / "meta" / "format-2.json").unlink()
    old = store.root / "retention" / sha[:2] / f"{sha}.json"
    old.parent.mkdir(parents=True)
    old.write_text(
        json.dumps({"sha256": sha, "retain_until": LATER.isoformat(), "legal_hold": True})
    )
    reopened = LocalWormStore(store.root, immutable="off")
    assert not old.exists()
    assert reopened.stat(key).retain_until == LATER and reopened.stat(key).legal_hold
    # Converted once: a retention file written afterwards is never read, even where the
    # records were moved away (the delete is then refused: no date is known).
    shutil.move(str(store.root / "records" / "retention"), str(store.root / "moved"))
    old.write_text(json.dumps({"sha256": sha, "retain_until": "2000-01-01T00:00:00+00:00"}))
    again = LocalWormStore(store.root, immutable="off")
    assert again.stat(key).retain_until is None
    reopened.set_legal_hold(key, False)
    with pytest.raises(RetentionLocked):
        again.delete(key, now=NOW)


def test_a_record_added_past_the_series_or_unreadable_counts_for_nothing(
    store: LocalWormStore,
) -> None:
    key = put(store, b"evidence", until=LATER).key
    sha = key.split("/")[3]
    store.set_legal_hold(key, True)
    holds = store.root / "records" / "hold" / sha[:2] / sha
    (holds / "000099.json").write_text(json.dumps({"legal_hold": False}))
    assert store.stat(key).legal_hold  # past a gap: not the store's
    series = store.root / "records" / "retention" / sha[:2] / sha
    (series / "000002.json").write_text("{not json")
    assert store.stat(key).retain_until == LATER
    store.set_legal_hold(key, False)  # the store's own next record goes where it reads
    assert not store.stat(key).legal_hold


def test_records_are_written_once_and_never_replaced(store: LocalWormStore) -> None:
    assert store.put_record("seal/ab/x.json", b"one")
    assert not store.put_record("seal/ab/x.json", b"one")  # the same bytes: nothing to do
    with pytest.raises(StoreError, match="another record"):
        store.put_record("seal/ab/x.json", b"two")
    assert store.read_record("seal/ab/x.json") == b"one"
    assert list(store.record_names("seal/")) == ["seal/ab/x.json"]
    for bad in ("../x", "seal/../../x", "seal//x", "/etc/passwd", "Seal/x", "seal/./x"):
        with pytest.raises(StoreError, match="not a record name"):
            store.put_record(bad, b"")
    with pytest.raises(ObjectMissing):
        store.read_record("seal/ab/y.json")


def test_holds_are_a_series_whose_latest_stands_and_a_delete_is_recorded(
    store: LocalWormStore,
) -> None:
    key = put(store, b"evidence", until=LATER).key
    sha = key.split("/")[3]
    store.set_legal_hold(key, True)
    store.set_legal_hold(key, True)  # already on: no new record
    store.set_legal_hold(key, False)
    holds = list(store.record_names(f"hold/{sha[:2]}/{sha}/"))
    assert len(holds) == 2 and not store.stat(key).legal_hold
    store.delete(key, now=LATER + timedelta(days=1))
    (deleted,) = store.record_names(f"deleted/{sha[:2]}/{sha}/")
    assert json.loads(store.read_record(deleted))["deleted_at"].startswith("2027-11-24")


def test_verify_catches_a_flipped_byte_and_a_missing_object(store: LocalWormStore) -> None:
    data = os.urandom(4096)
    sha = hashlib.sha256(data).hexdigest()
    key = put(store, data).key
    path = store.path_for(key)
    path.chmod(0o644)
    with path.open("r+b") as handle:
        handle.seek(1000)
        handle.write(bytes([data[1000] ^ 0x01]))
    result = store.verify(key, sha, len(data))
    assert not result.ok and result.reason == "content does not match its SHA-256"
    path.unlink()
    assert store.verify(key, sha, len(data)).reason == "object missing from the store"
    with pytest.raises(ObjectMissing):
        store.stat(key)


def test_aborted_write_leaves_nothing(store: LocalWormStore) -> None:
    writer = store.begin_put()
    writer.write(b"partial")
    writer.abort()
    writer.abort()
    assert list(store.keys()) == [] and store.debris() == []


def test_keys_that_are_not_digests_are_refused(store: LocalWormStore) -> None:
    for key in ("../../etc/passwd", "sha256/aa/bb/not-a-digest", "sha256/" + "a" * 64):
        with pytest.raises(StoreError):
            store.path_for(key)


def test_full_disk_is_a_clear_error_and_loses_nothing(tiny_fs: Path) -> None:
    """A store on a full filesystem refuses the object and keeps what it had."""
    store = LocalWormStore(tiny_fs / "store", immutable="off")
    kept = put(store, b"kept")
    with pytest.raises(StoreError, match="store is full"):
        put(store, os.urandom(16 * 1024 * 1024))
    assert store.verify(kept.key, hashlib.sha256(b"kept").hexdigest()).ok
    assert store.debris() == []


def test_an_object_that_cannot_fit_fails_before_it_takes_the_room_of_one_being_sealed(
    tiny_fs: Path,
) -> None:
    """Told its size, the store takes the room first: an object too big fails at once, and
    one written meanwhile still seals with its retention record (the overlapped ingest)."""
    store = LocalWormStore(tiny_fs / "store", immutable="off")
    data = os.urandom(2 * 1024 * 1024)
    pending = store.begin_put(len(data))
    pending.write(data)
    free = shutil.disk_usage(tiny_fs).free
    with pytest.raises(StoreError, match="store is full while taking room"):
        store.begin_put(free)
    assert shutil.disk_usage(tiny_fs).free >= free - 64 * 1024  # nothing was written for it
    put_result = pending.commit(hashlib.sha256(data).hexdigest(), len(data), LATER)
    assert store.verify(put_result.key, hashlib.sha256(data).hexdigest(), len(data)).ok
    assert store.stat(put_result.key).retain_until == LATER
    assert store.debris() == []


def test_room_taken_ahead_is_the_object_s_own_size_and_a_shorter_write_keeps_its_bytes(
    store: LocalWormStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reservation never changes what is sealed; where the filesystem cannot allocate
    ahead the object is written as it comes."""
    data = b"clip bytes" * 1000
    writer = store.begin_put(len(data) * 4)  # a clip that turned out shorter
    writer.write(data)
    result = writer.commit(hashlib.sha256(data).hexdigest(), len(data), LATER)
    assert store.verify(result.key, hashlib.sha256(data).hexdigest(), len(data)).ok
    assert store.stat(result.key).size == len(data)

    def unsupported(fd: int, mode: int, offset: int, length: int) -> int:
        ctypes.set_errno(errno.EOPNOTSUPP)
        return -1

    monkeypatch.setattr(local, "_fallocate", unsupported)
    other = b"other clip"
    writer = store.begin_put(len(other))
    writer.write(other)
    result = writer.commit(hashlib.sha256(other).hexdigest(), len(other), LATER)
    assert store.verify(result.key, hashlib.sha256(other).hexdigest(), len(other)).ok


def test_immutable_flag_is_applied_where_permitted(tmp_path: Path) -> None:
    store = LocalWormStore(tmp_path / "store", immutable="auto")
    result = put(store, b"locked")
    path = store.path_for(result.key)
    try:
        assert result.immutable == immutable.is_immutable(str(path))
        if not result.immutable:
            pytest.skip("no CAP_LINUX_IMMUTABLE or no flag support on this filesystem")
        with pytest.raises(PermissionError):
            path.unlink()
        with pytest.raises(PermissionError):
            path.open("r+b")
        with pytest.raises(RetentionLocked):
            store.delete(result.key, now=NOW)
        store.delete(result.key, now=LATER + timedelta(days=1))  # expired: the store clears it
        assert not path.exists()
    finally:
        if path.exists():
            immutable.set_immutable(str(path), False)


def test_debris_of_a_crash_is_cleaned_but_a_live_write_is_not(store: LocalWormStore) -> None:
    crashed = store.begin_put()
    crashed.write(b"half a clip")
    os.close(crashed._fd)  # the process died here: the descriptor (and its lock) is gone
    crashed._fd = None
    live = store.begin_put()
    live.write(b"being written")
    assert len(store.debris()) == 2
    assert len(store.clean_debris()) == 1
    assert len(store.debris()) == 1
    live.commit(hashlib.sha256(b"being written").hexdigest(), 13, LATER)
    assert store.debris() == [] and len(list(store.keys())) == 1


def test_sealing_leaves_no_second_name_for_the_object(store: LocalWormStore) -> None:
    result = put(store, b"one name only")
    assert store.path_for(result.key).stat().st_nlink == 1
