"""Structured log lines on standard error, for journald: `key=value` pairs or one JSON
object per line, at the level and in the format of the `[logging]` settings.

Messages carry their facts as fields, one style everywhere:
`kv(log, logging.INFO, "job done", job=12, kind="poster", ms=340)` gives
`time=... level=info logger=vault.media.worker msg="job done" job=12 kind=poster ms=340`.
Never log secrets, credentials or document contents: a URL's `user:password@` is masked
in every line (redact_url), but the rest is the caller's care.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from vault.config import LoggingSettings, Settings

FIELDS = "fields"  # the LogRecord attribute kv() puts its fields in
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s:/@]*):[^\s/@]*@")
QUIET = ("botocore", "boto3", "s3transfer", "urllib3")  # never below info
_BARE = re.compile(r"[^\s\"'=\\]+")  # printed without quotes


def redact_url(text: str) -> str:
    """Mask the password of every URL in text: postgresql://u:secret@db/x -> u:***@db/x."""
    return _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)


def kv(log: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log msg with fields (kept apart from the message, so both formats can show them)."""
    if log.isEnabledFor(level):
        log.log(level, msg, extra={FIELDS: fields}, stacklevel=2)


def _clean(value: Any) -> Any:
    """A value as it may appear in a line: plain JSON types, passwords in URLs masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return redact_url(str(value))  # Path, Enum, SecretStr (prints as stars) ...


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The line's fields in order: time, level, logger, msg, then the message's own."""
    when = datetime.fromtimestamp(record.created, UTC)
    fields: dict[str, Any] = {
        "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": record.levelname.lower(),
        "logger": record.name,
    }
    if record.threadName and record.threadName != "MainThread":
        fields["thread"] = record.threadName
    fields["msg"] = record.getMessage()
    for key, value in (getattr(record, FIELDS, None) or {}).items():
        if key not in fields:  # the fixed ones above cannot be overwritten
            fields[key] = value
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        fields["exc"] = record.exc_text
    return {key: _clean(value) for key, value in fields.items()}


def keyvalue(value: Any) -> str:
    """One value of a key=value line: bare when it can be, else a JSON string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    )
    if _BARE.fullmatch(text):
        return text
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={keyvalue(v)}" for k, v in record_fields(record).items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), ensure_ascii=False, default=str)


FORMATTERS: dict[str, type[logging.Formatter]] = {
    "keyvalue": KeyValueFormatter,
    "json": JsonFormatter,
}


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (a test's capture, a redirected one)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure(
    settings_or_level: Settings | LoggingSettings | str | None = None,
    format: str | None = None,
) -> logging.Handler:
    """Send this process's log records to stderr in the configured form; called by every
    long-running part as it starts. Idempotent: a second call re-sets level and format of
    the one handler instead of adding another."""
    if isinstance(settings_or_level, Settings):
        settings_or_level = settings_or_level.logging
    level: str = "info"
    if isinstance(settings_or_level, LoggingSettings):
        level, format = settings_or_level.level, format or settings_or_level.format
    elif settings_or_level:
        level = settings_or_level
    format = format or "keyvalue"
    if format not in FORMATTERS:
        raise ValueError(f"unknown log format {format!r} (known: {', '.join(FORMATTERS)})")
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        root.addHandler(handler)
    handler.setFormatter(FORMATTERS[format]())
    root.setLevel(level.upper())
    for name in QUIET:  # their debug lines carry request headers and signatures
        logging.getLogger(name).setLevel(max(root.level, logging.INFO))
    return handler
