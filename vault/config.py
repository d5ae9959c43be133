"""Settings: one TOML file, validated with pydantic; embedded defaults need no file at all.

The file is found at --config, else $EVAULT_CONFIG, else $EVAULT_HOME/vault.toml;
$EVAULT_HOME defaults to ~/.local/share/evidence-vault. Every key is documented in
config/vault.example.toml.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from vault import i18n
from vault.errors import ConfigError
from vault.i18n import N_, Phrase

PACKAGE_DIR = Path(__file__).resolve().parent


def vault_home() -> Path:
    return Path(os.environ.get("EVAULT_HOME") or Path.home() / ".local/share/evidence-vault")


def builtin_profiles_dir() -> Path:
    """devices/ of a source checkout, else the copy packed into the wheel."""
    checkout = PACKAGE_DIR.parent / "devices"
    return checkout if checkout.is_dir() else PACKAGE_DIR / "_devices"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str | None = None  # default: sqlite under home


class StoreSettings(Section):
    backend: Literal["local", "s3"] = "local"
    path: Path | None = None  # default: home/store
    # "auto": apply chattr +i where the process may; "require": refuse to seal without it.
    immutable: Literal["auto", "require", "off"] = "auto"
    # S3 Object Lock (backend = "s3"); credentials come from boto3's chain, never from here.
    endpoint_url: str | None = None  # None: AWS S3 of `region`
    region: str | None = None
    bucket: str | None = None
    prefix: str = ""  # objects go under PREFIX/sha256/..., uploads in progress PREFIX/staging/
    part_size: Annotated[int, Field(ge=5 * 1024 * 1024, le=5 * 1024 * 1024 * 1024)] = (
        16 * 1024 * 1024
    )
    upload_workers: Annotated[int, Field(ge=1, le=32)] = 4  # parts in flight per clip
    verify_tls: bool = True
    ca_bundle: Path | None = None  # a private CA (e.g. an in-house Ceph RGW)
    addressing_style: Literal["path", "virtual"] = "path"
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5  # per request, with backoff
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # What `evault store check` expects of the bucket's default retention (and `init` sets).
    default_retention_days: Annotated[int, Field(ge=1)] | None = None
    # While the S3 service cannot be reached, seal into a local spool (same single pass) and
    # keep the clips on the camera; `evault store drain` uploads them later.
    spool: bool = True
    spool_path: Path | None = None  # default: home/spool
    spool_min_free_mb: Annotated[int, Field(ge=0)] = 1024  # below this, take no camera
    # The heads of the audit chain and the access register are sealed into the store at
    # every signing, every ANCHOR_EVERY entries and at least every ANCHOR_MINUTES while the
    # chain grows: a cut tail or a wiped register shows against the newest (issue 15).
    anchor_every: Annotated[int, Field(ge=1, le=100000)] = 20
    anchor_minutes: Annotated[float, Field(gt=0, le=1440)] = 5.0

    @field_validator("endpoint_url")
    @classmethod
    def _no_secrets_in_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if parts.username or parts.password:
            # Credentials in a URL would end up in logs and error messages.
            raise ValueError("must not contain credentials; use the AWS credential chain")
        return value

    @field_validator("prefix")
    @classmethod
    def _clean_prefix(cls, value: str) -> str:
        value = value.strip("/")
        if value and any(part in ("", ".", "..") for part in value.split("/")):
            raise ValueError("must be a plain path such as 'station-01' or 'vault/evidence'")
        return f"{value}/" if value else ""

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> StoreSettings:
        if self.backend == "s3" and not self.bucket:
            raise ValueError('backend = "s3" needs store.bucket')
        return self


class IngestSettings(Section):
    chunk_size: Annotated[int, Field(ge=64 * 1024, le=256 * 1024 * 1024)] = 8 * 1024 * 1024
    # "disk": drop the sealed file's cached pages first so the read-back comes from the disk;
    # "cache": read back whatever the kernel serves (faster, checks less).
    verify_readback: Literal["disk", "cache"] = "disk"
    max_depth: Annotated[int, Field(ge=1, le=64)] = 12


Years = Annotated[int, Field(ge=1, le=1000)] | Literal["permanent"]

CASE_TYPES = ("行政处罚", "行政强制", "行政检查", "行政许可", "other")


def _default_case_years() -> dict[str, Years]:
    return {"行政处罚": 30, "行政强制": 30, "行政检查": 10, "行政许可": 30, "other": 10}


class RetentionSettings(Section):
    routine_months: Annotated[int, Field(ge=12)] = 12  # RT-1: at least 12 months
    long_term_years: Years = 30  # RT-2
    case_years: dict[str, Years] = Field(default_factory=_default_case_years)  # RT-3

    @field_validator("case_years")
    @classmethod
    def _every_case_type(cls, value: dict[str, Years]) -> dict[str, Years]:
        unknown = set(value) - set(CASE_TYPES)
        if unknown:
            raise ValueError(f"unknown case type {sorted(unknown)[0]!r} (known: {CASE_TYPES})")
        return {**_default_case_years(), **value}


class DevicesSettings(Section):
    profile_dirs: list[Path] = Field(default_factory=list)  # searched before the built-in ones
    # Admin passwords of camera control drivers (GA/T 947.4), by profile name. SecretStr: never
    # printed by repr, logs or error messages.
    driver_passwords: dict[str, SecretStr] = Field(default_factory=dict)
    # DV-3: a camera handed out below these is a finding (Xiangxi 第12条: charge enough for a
    # working day; a day of 1080p footage at about 1 GB an hour needs some 10 GB).
    min_battery_percent: Annotated[int, Field(ge=0, le=100)] = 80
    min_free_gb: Annotated[float, Field(ge=0, le=100_000)] = 10.0


class DockSettings(Section):
    """The docking-station daemon, `evault dock` (issue 3, IN-1, IN-2, DV-1, DV-3)."""

    workers: Annotated[int, Field(ge=1, le=64)] = 4  # cameras ingested at once
    mount_root: Path | None = None  # default: home/mnt (private, 0700)
    # "auto": the kernel's vfat/exfat when it has them, else FUSE (fusefat, exfat-fuse).
    mount_with: Literal["auto", "kernel", "fuse"] = "auto"
    erase: bool = True  # erase clips from the camera once their sealed copy verified (IN-2)
    sync_clock: bool = True  # set the camera clock from the station's where the driver can
    watch_dirs: list[Path] = Field(default_factory=list)  # desktop automount dirs, e.g. /media
    settle_s: Annotated[float, Field(ge=0, le=60)] = 1.0  # wait after 'add' before mounting
    watchdog_s: Annotated[float, Field(gt=0, le=600)] = 10.0  # WATCHDOG ping interval


# AC-0: the approval levels the documents name, highest first: 局机关主要负责人 (head),
# 分管领导 (deputy in charge), 综合行政执法机构负责人 (head of the enforcement unit).
APPROVAL_LEVELS = ("head", "deputy", "unit_head")
ApprovalLevel = Literal["head", "deputy", "unit_head"]
# Who asks (vault.access.principals.KINDS; a unit test keeps the two the same).
REQUESTER_KINDS = (
    "staff",
    "public_security",
    "procuratorate",
    "court",
    "state_security",
    "discipline",
    "judicial_admin",
    "audit",
    "superior",
    "party",
    "natural_person",
    "lawyer",
    "other_region",
)
APPROVAL_ACTIONS = ("view", "copy", "export")


class ApprovalSettings(Section):
    """AC-0: which level approves which requester kind and action, and which stop record:
    a preset per document, then overrides (vault.access.approval)."""

    preset: Literal["pingdingshan", "xiangxi", "shanxi", "gansu-eco", "gansu-radio"] = (
        "pingdingshan"  # the strictest: the head for everything
    )
    # "KIND.ACTION", "KIND", "*.ACTION" or "*" -> level; the most specific key wins.
    requests: dict[str, ApprovalLevel] = Field(default_factory=dict)
    # a stop record's ground (or "*") -> level
    stops: dict[str, ApprovalLevel] = Field(default_factory=dict)

    @field_validator("requests")
    @classmethod
    def _known_keys(cls, value: dict[str, ApprovalLevel]) -> dict[str, ApprovalLevel]:
        for key in value:
            kind, _, action = key.partition(".")
            if kind != "*" and kind not in REQUESTER_KINDS:
                raise ValueError(f"{key!r}: unknown requester kind (known: {REQUESTER_KINDS})")
            if "." in key and action not in APPROVAL_ACTIONS:
                raise ValueError(f"{key!r}: unknown action (known: {APPROVAL_ACTIONS})")
        return value


class AccessSettings(Section):
    """Grants and the access register (AC-7): the signing key lives outside the database."""

    signing_key: Path | None = None  # default: home/register-signing.key (mode 0600)
    grant_days: Annotated[int, Field(ge=1, le=366)] = 7  # a grant's default validity
    max_grant_days: Annotated[int, Field(ge=1, le=3660)] = 90  # approvers may not exceed it
    sign_every: Annotated[int, Field(ge=1, le=10000)] = 1  # sign the head every N entries
    document_years: Annotated[int, Field(ge=1, le=1000)] = 30  # retention of request documents
    cjk_font: Path | None = None  # default: Noto CJK from Debian's fonts-noto-cjk
    # The enforcement body's full name, at the head of every official paper (issue 17).
    bureau_name: Annotated[str, Field(max_length=128)] | None = None
    approval: ApprovalSettings = ApprovalSettings()  # AC-0: approval levels


class MediaSettings(Section):
    """Viewing copies, thumbnails, audio extracts and salvage (issue 4, IN-3, IN-5)."""

    viewing_max_side: Annotated[int, Field(ge=160, le=7680)] = 1280  # longest side, pixels
    # A clip a browser plays as it is (H.264 yuv420p, AAC) up to this longest side is remuxed,
    # not transcoded (vault.media.remux); 0: always transcode.
    remux_max_side: Annotated[int, Field(ge=0, le=7680)] = 1920
    crf: Annotated[int, Field(ge=0, le=51)] = 23  # libx264 CRF / NVENC CQ: lower is better
    preset: str = "veryfast"  # libx264 preset (NVENC uses its own p1..p7 scale)
    audio_bitrate_k: Annotated[int, Field(ge=16, le=512)] = 96  # AAC in the viewing copy
    caption: bool = False  # burn in device, officer, camera time and corrected time
    encoder: Literal["auto", "libx264", "h264_nvenc"] = "auto"
    timeout_s: Annotated[float, Field(gt=0, le=86400)] = 3600.0  # per ffmpeg run or salvage
    probe_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    nice: Annotated[int, Field(ge=0, le=19)] = 10  # ffmpeg runs below ingest's priority
    sheet_columns: Annotated[int, Field(ge=1, le=12)] = 4
    sheet_rows: Annotated[int, Field(ge=1, le=12)] = 4
    sheet_thumb_width: Annotated[int, Field(ge=64, le=1280)] = 320
    audio_format: Literal["flac", "wav"] = "flac"
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    backoff_s: Annotated[float, Field(ge=0, le=86400)] = 60.0  # doubles with each attempt
    stale_after_s: Annotated[float, Field(ge=10, le=86400)] = 300.0  # heartbeat older: re-queue
    poll_s: Annotated[float, Field(gt=0, le=3600)] = 5.0  # idle worker's wait between looks


class ComplianceSettings(Section):
    """Recording compliance checks and the oversight report (issue 5: DV-2, RC-1..RC-5, IN-1)."""

    max_clock_offset_s: Annotated[float, Field(gt=0, le=86400)] = 10.0  # DV-2
    continuity_tolerance_s: Annotated[float, Field(ge=0, le=600)] = 2.0  # RC-2: split files
    session_gap_s: Annotated[float, Field(gt=0, le=86400)] = 1800.0  # longer: a new session
    narration_window_s: Annotated[float, Field(gt=0, le=600)] = 20.0  # RC-1, RC-3
    # RC-1: whose opening elements and notice (vault.compliance.openings, issue 18 part 6).
    narration_preset: Literal["shanxi", "gansu-eco", "gansu-radio", "pingdingshan", "xiangxi"] = (
        "shanxi"
    )
    narration_elements: dict[str, list[str]] | None = None  # element -> keywords; the preset's
    narration_notice: str | None = None  # the province's wording; the preset's
    # An opening with less speech is not narrated; None: the time the preset's elements take.
    min_speech_s: Annotated[float, Field(gt=0, le=600)] | None = None
    min_resume_speech_s: Annotated[float, Field(gt=0, le=600)] = 1.5  # RC-3: the reason
    upload_deadline: Literal["24h", "2 working days"] = "24h"  # IN-1
    transcript_model_dir: Path | None = None  # optional offline Mandarin transcript model
    # RC-5: the bureau's 音像记录事项清单, a preset of vault/cases/lists/ or a TOML file's
    # path (vault.cases.record_list); Gansu-Eco's is the most complete and the strictest.
    record_list: Annotated[str, Field(min_length=1)] = "gansu-eco"
    # RC-5: days after a case closes by which its footage is linked (Gansu-Eco 第41条).
    archive_days: Annotated[int, Field(ge=1, le=365)] = 30

    @model_validator(mode="after")
    def _gap_beyond_tolerance(self) -> ComplianceSettings:
        if self.session_gap_s <= self.continuity_tolerance_s:
            raise ValueError("session_gap_s must be larger than continuity_tolerance_s")
        return self


class LoggingSettings(Section):
    """Log lines on standard error, for journald (vault.logs)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["keyvalue", "json"] = "keyvalue"  # key=value pairs, or a JSON object


class WebSettings(Section):
    """The web console (issue 19): served by `evault serve` beside the socket."""

    enabled: bool = False  # serve it (or `evault serve --web HOST:PORT`)
    listen: Annotated[str, Field(pattern=r"^\[?[0-9A-Za-z.:-]+\]?:[0-9]{1,5}$")] = "127.0.0.1:8080"
    tls_cert: Path | None = None  # PEM certificate (chain): HTTPS, Secure cookies
    tls_key: Path | None = None  # its PEM private key
    idle_minutes: Annotated[int, Field(ge=1, le=1440)] = 30  # a session unused this long ends
    max_failures: Annotated[int, Field(ge=1, le=100)] = 5  # failed logins in a row: locked
    lockout_minutes: Annotated[int, Field(ge=1, le=10080)] = 15  # how long it stays locked
    failure_delay_s: Annotated[float, Field(ge=0, le=10)] = 1.0  # answer slower per failure

    @model_validator(mode="after")
    def _cert_with_key(self) -> WebSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self


class Settings(Section):
    home: Path = Field(default_factory=vault_home)
    station_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        default_factory=socket.gethostname
    )
    timezone: str = "Asia/Shanghai"  # the zone camera clocks and displays use
    # The language of what people read: papers, reports, disc labels (vault.i18n, issue 17).
    language: Literal["zh_CN", "en"] = "zh_CN"
    # Where `evault serve` listens (clients: --socket, $EVAULT_SOCKET, else the default).
    socket: Path | None = None
    database: DatabaseSettings = DatabaseSettings()
    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()
    retention: RetentionSettings = RetentionSettings()
    devices: DevicesSettings = DevicesSettings()
    dock: DockSettings = DockSettings()
    media: MediaSettings = MediaSettings()
    access: AccessSettings = AccessSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    logging: LoggingSettings = LoggingSettings()
    web: WebSettings = WebSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def database_url(self) -> str:
        # $EVAULT_DATABASE_URL when the file names none: a station's PostgreSQL password can
        # stay in a root-only systemd EnvironmentFile instead of the configuration.
        return (
            self.database.url
            or os.environ.get("EVAULT_DATABASE_URL")
            or f"sqlite:///{self.home / 'vault.db'}"
        )

    @property
    def store_path(self) -> Path:
        return self.store.path or self.home / "store"

    @property
    def spool_path(self) -> Path:
        return self.store.spool_path or self.home / "spool"

    @property
    def mount_root(self) -> Path:
        return self.dock.mount_root or self.home / "mnt"

    @property
    def profile_dirs(self) -> list[Path]:
        return [*self.devices.profile_dirs, builtin_profiles_dir()]


def config_path(explicit: Path | None = None) -> Path | None:
    """The file to read, or None for the embedded defaults."""
    if explicit is not None:
        return explicit
    if env := os.environ.get("EVAULT_CONFIG"):
        return Path(env)
    default = vault_home() / "vault.toml"
    return default if default.exists() else None


def load_settings(explicit: Path | None = None) -> Settings:
    """The process's settings; from here on it speaks their `language`."""
    settings = _read_settings(config_path(explicit))
    i18n.use(settings.language)
    return settings


def _read_settings(path: Path | None) -> Settings:
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(N_("configuration file {path} does not exist"), path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            N_("cannot read configuration file {path}: {problem}"), path=path, problem=exc
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            N_("{path}: not valid {format}: {problem}"), path=path, format="TOML", problem=exc
        ) from None
    return parse_settings(data, source=str(path))


def parse_settings(data: dict[str, object], source: str = "configuration") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            N_("{source}: {problem}"),
            source=Phrase(N_("configuration")) if source == "configuration" else source,
            problem=describe_validation_error(exc),
        ) from None


def describe_validation_error(exc: ValidationError) -> str:
    """First problem as one line naming the key: 'store.immutable: Input should be ...'."""
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{key}: {message}{more}"
