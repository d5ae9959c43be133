"""Structured log lines (issue 14): key=value or JSON on stderr, values with spaces quoted,
no password of a URL ever written, and the media worker saying what it took and did."""

from __future__ import annotations

import io
import json
import logging
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import make_settings
from vault import logs
from vault.config import LoggingSettings
from vault.context import Vault
from vault.db.models import MediaJob
from vault.errors import ConfigError
from vault.ingest.pipeline import ingest_volume
from vault.media import jobs
from vault.media.worker import run_worker


def make_record(msg: str = "job done", **fields: object) -> logging.LogRecord:
    record = logging.LogRecord("vault.media.worker", logging.INFO, __file__, 1, msg, (), None)
    record.created = datetime(2026, 11, 23, 9, 0, 1, 500000, tzinfo=UTC).timestamp()
    record.threadName = "MainThread"
    setattr(record, logs.FIELDS, fields)
    return record


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure() changes the process's root logger: put it back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_keyvalue_line_names_time_level_logger_message_and_fields() -> None:
    line = logs.KeyValueFormatter().format(make_record(job=12, kind="poster", ms=340))
    assert line == (
        "time=2026-11-23T09:00:01.500Z level=info logger=vault.media.worker "
        'msg="job done" job=12 kind=poster ms=340'
    )


def test_values_with_spaces_quotes_or_nothing_are_quoted() -> None:
    line = logs.KeyValueFormatter().format(
        make_record(
            "x",
            error='ffmpeg failed (exit 1): "moov" not found',
            empty="",
            equal="a=b",
            name="档案员",
            gone=None,
            ok=True,
            ids=[1, 2],
        )
    )
    fields = line.split(" msg=x ", 1)[1]
    assert fields == (
        r'error="ffmpeg failed (exit 1): \"moov\" not found" empty="" equal="a=b" '
        "name=档案员 gone=null ok=true ids=[1,2]"
    )


def test_json_format_is_one_object_per_line() -> None:
    line = logs.JsonFormatter().format(
        make_record(job=12, note="已完成 ok", at=datetime(2026, 1, 2, tzinfo=UTC))
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-23T09:00:01.500Z",
        "level": "info",
        "logger": "vault.media.worker",
        "msg": "job done",
        "job": 12,
        "note": "已完成 ok",
        "at": "2026-01-02T00:00:00Z",
    }


def test_passwords_in_urls_are_redacted_in_messages_and_fields() -> None:
    url = "postgresql+psycopg://station01:s3cr%40t@db.example.internal:5432/evault"
    assert (
        logs.redact_url(url) == "postgresql+psycopg://station01:***@db.example.internal:5432/evault"
    )
    assert (
        logs.redact_url("https://rgw.example.internal/bucket")
        == "https://rgw.example.internal/bucket"
    )
    assert (
        logs.redact_url("at https://u:p@h/x and ftp://a:b@c")
        == "at https://u:***@h/x and ftp://a:***@c"
    )
    for formatter in (logs.KeyValueFormatter(), logs.JsonFormatter()):
        line = formatter.format(make_record(f"cannot reach {url}", database=url, urls=[url]))
        assert "s3cr" not in line and line.count("station01:***@") == 3


def test_a_traceback_stays_on_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("vault.x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    line = logs.KeyValueFormatter().format(record)
    assert "\n" not in line and 'exc="Traceback' in line and "RuntimeError: boom" in line


def test_configure_installs_one_handler_at_the_set_level(restore_logging: None) -> None:
    root = logging.getLogger()
    first = logs.configure(make_settings(Path("/nonexistent")))
    again = logs.configure(LoggingSettings(level="warning", format="json"))
    assert first is again
    assert [h for h in root.handlers if isinstance(h, logs.StderrHandler)] == [first]
    assert root.level == logging.WARNING and isinstance(first.formatter, logs.JsonFormatter)
    logs.configure("debug", "keyvalue")
    assert root.level == logging.DEBUG and isinstance(first.formatter, logs.KeyValueFormatter)
    assert logging.getLogger("botocore").level == logging.INFO  # never its request dumps


def test_configure_writes_to_the_stderr_of_the_moment(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs.configure("info")
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    logs.kv(logging.getLogger("vault.test"), logging.INFO, "purge done", deleted=2, kept=1)
    logs.kv(logging.getLogger("vault.test"), logging.DEBUG, "not shown")
    assert err.getvalue().endswith('msg="purge done" deleted=2 kept=1\n')
    assert "not shown" not in err.getvalue()


def test_logging_settings_are_checked() -> None:
    settings = make_settings(Path("/nonexistent"), logging={"level": "debug", "format": "json"})
    assert (settings.logging.level, settings.logging.format) == ("debug", "json")
    assert make_settings(Path("/nonexistent")).logging == LoggingSettings(
        level="info", format="keyvalue"
    )
    with pytest.raises(ConfigError, match=r"logging\.format"):
        make_settings(Path("/nonexistent"), logging={"format": "xml"})


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg is not installed")
def test_media_worker_logs_each_job_taken_and_done(
    vault: Vault, camera: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ingest_volume(vault, camera)
    with caplog.at_level(logging.INFO, logger="vault.media"):
        report = run_worker(vault, until_idle=True, max_jobs=1)
    [job] = report.jobs
    assert job["state"] == "done" and job["kind"] == "probe"
    taken, done = (r for r in caplog.records if r.name == "vault.media.worker")
    assert taken.getMessage() == "job taken" and done.getMessage() == "job done"
    facts = {"job": job["job_id"], "kind": "probe", "evidence": job["evidence_id"]}
    assert getattr(taken, logs.FIELDS) == facts | {"attempt": 1, "of": 5}
    fields = getattr(done, logs.FIELDS)
    assert {k: fields[k] for k in facts} == facts and fields["ms"] >= 0
    line = logs.KeyValueFormatter().format(done)
    assert (
        f'msg="job done" job={job["job_id"]} kind=probe evidence={job["evidence_id"]} ms=' in line
    )


def test_a_failed_job_logs_its_error_attempt_and_next_try(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.unit.test_media_jobs import NOW, add_evidence

    with vault.session() as session:
        jobs.enqueue(session, add_evidence(session).id or 0, "viewing", NOW, max_attempts=2)
        session.commit()
        claimed = jobs.claim(session, "w:1", NOW)
        assert isinstance(claimed, MediaJob)
        with caplog.at_level(logging.INFO, logger="vault.media"):
            jobs.fail(session, claimed, "w:1", "ffmpeg failed (exit 1)", NOW, vault.settings.media)
    # Only the media queue's own lines: the first session of the test's vault migrates its
    # database, and alembic's lines are captured too once an earlier test set up logging.
    [record] = [r for r in caplog.records if r.name.startswith("vault.media")]
    assert record.levelno == logging.WARNING and record.getMessage() == "job failed, will retry"
    fields = getattr(record, logs.FIELDS)
    assert (fields["error"], fields["attempt"], fields["of"]) == ("ffmpeg failed (exit 1)", 1, 2)
    assert fields["retry_at"] == NOW + jobs.backoff(vault.settings.media, 1)


def test_purge_counts_what_it_kept_by_reason() -> None:
    from vault.cases.purge import PurgeReport

    report = PurgeReport(datetime(2027, 11, 23, tzinfo=UTC), dry_run=True)
    report.deleted = [{"evidence_id": 1}]
    report.kept = [
        {"evidence_id": 2, "reason": "legal hold (1), open case 环罚〔2026〕7号"},
        {"evidence_id": 3, "reason": "retained until 2028-01-01T00:00:00Z"},
        {"evidence_id": 4, "reason": "open case A-1"},
    ]
    assert report.counts() == {
        "would_delete": 1,
        "kept": 3,
        "kept_legal_hold": 1,
        "kept_open_case": 2,
        "kept_retained": 1,
    }
