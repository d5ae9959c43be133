"""The bureau's must-record list (音像记录事项清单, RC-5): which 事项 and 环节 are recorded on
video or audio, when recording starts and ends, and how long it is kept.

Each bureau publishes its own list (Gansu-Eco 第13条, Shanxi 第11条, Gansu-Radio 第14条;
Pingdingshan 附件1 is the one with every column). The list is data: a TOML file, validated
here; the five documents' lists ship as presets in vault/cases/lists/ (one file each, citing
the article of every row). `[compliance] record_list` names a preset or a file's path.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vault.config import ComplianceSettings
from vault.errors import ConfigError, UsageError
from vault.i18n import N_, Phrase, either

LISTS_DIR = Path(__file__).resolve().parent / "lists"
# The preset a vault uses when its settings name none: Gansu-Eco's list is the most complete
# and the strictest (第9条 makes recording mandatory at eight stages, 审查决定, 送达执行 and
# 结案归档 among them; 第13条 查封扣押 and 强制拆除 in full; hearings, 陈述申辩 and refused
# service in 第17、18、30、38、40条), where Shanxi and Gansu-Radio leave most to circumstances
# and Pingdingshan 附件1 has three rows.
DEFAULT: str = ComplianceSettings.model_fields["record_list"].default
Retention = Literal["case_file", "routine", "long_term"] | Annotated[int, Field(ge=1, le=1200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Strict):
    """One row of the list (the columns of Pingdingshan 附件1)."""

    number: int | None = None  # 序号
    category: str | None = None  # 执法类别
    matter: Annotated[str, Field(min_length=1)]  # 执法事项
    stage: Annotated[str, Field(min_length=1)]  # 记录环节
    place: str | None = None  # 执法场所
    recorder: str | None = None  # 记录人
    starts: str | None = None  # 记录开始时间
    content: str | None = None  # 记录内容
    ends: str | None = None  # 记录结束时间
    storage: str | None = None  # 记录存储时间, in the document's words
    # What the storage time means for the vault: as long as the case file (RT-3), the
    # routine period (RT-1), long-term (RT-2), or a number of months from recording.
    retention: Retention = "case_file"
    kind: str | None = None  # 执法记录类别
    note: str | None = None  # 备注
    required: bool = True  # False: recorded as circumstances require (根据实际情况)
    article: Annotated[str, Field(min_length=1)]  # where the row comes from


class RecordList(_Strict):
    name: Annotated[str, Field(min_length=1)]
    title: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]
    item: Annotated[list[Item], Field(min_length=1)]

    @model_validator(mode="after")
    def _pairs_unique(self) -> RecordList:
        seen: set[tuple[str, str]] = set()
        for row in self.item:
            pair = (row.matter, row.stage)
            if pair in seen:
                raise ValueError(f"事项 {row.matter} 环节 {row.stage} is listed twice")
            seen.add(pair)
        return self

    def matters(self) -> list[str]:
        return list(dict.fromkeys(row.matter for row in self.item))

    def stages(self, matter: str) -> list[Item]:
        return [row for row in self.item if row.matter == matter]

    def find(self, matter: str, stage: str) -> Item | None:
        for row in self.item:
            if row.matter == matter and row.stage == stage:
                return row
        return None


def presets() -> list[str]:
    return sorted(p.stem for p in LISTS_DIR.glob("*.toml"))


def load_file(path: Path) -> RecordList:
    """A list file, validated; ConfigError (one line) where it is missing or wrong."""
    try:
        with path.open("rb") as source:
            data = tomllib.load(source)
    except OSError as error:
        raise ConfigError(
            N_("must-record list {path}: {problem}"), path=path, problem=error.strerror or error
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            N_("must-record list {path}: {problem}"), path=path, problem=error
        ) from None
    try:
        return RecordList.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            N_("must-record list {path}: {problem}"), path=path, problem=f"{where}: {first['msg']}"
        ) from None


@cache
def _cached(path: Path, mtime_ns: int) -> RecordList:
    return load_file(path)


def load(name: str | None) -> RecordList:
    """The list a setting names: a preset's name, or the path of a bureau's own file."""
    name = name or DEFAULT
    if name in presets():
        path = LISTS_DIR / f"{name}.toml"
    else:
        path = Path(name).expanduser()
        if not path.suffix and not path.exists():
            known = ", ".join(presets())
            raise ConfigError(
                N_("unknown must-record list {name} (presets: {known}; or a path)"),
                name=repr(name),
                known=known,
            )
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return load_file(path)  # raises the one-line error
    return _cached(path.resolve(), mtime)


def _did_you_mean(name: str, known: list[str]) -> Phrase | str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.3)
    return Phrase(N_(" (did you mean {names}?)"), names=either(close)) if close else ""


@dataclass(frozen=True)
class Stated:
    """One 事项 and 环节 a case states, as stored on the case."""

    matter: str
    stage: str
    retention: str | int  # the list's storage time, as Item.retention
    required: bool

    def to_json(self) -> dict[str, str | int | bool]:
        return {
            "matter": self.matter,
            "stage": self.stage,
            "retention": self.retention,
            "required": self.required,
        }


def resolve(record_list: RecordList, matters: list[str], stages: list[str]) -> list[Stated]:
    """The 事项 and 环节 a case states, checked against the list. A 事项 given with no 环节
    states every 环节 of it; a 环节 belongs to one of the 事项 given (a UsageError with the
    nearest names where one is unknown)."""
    if stages and not matters:
        raise UsageError(
            N_("{option} needs the {matter} it belongs to"), option="--stage", matter="--matter"
        )
    known = record_list.matters()
    for matter in matters:
        if matter not in known:
            raise UsageError(
                N_("unknown 事项 {matter} in the must-record list {list}{suggestion}"),
                matter=repr(matter),
                list=record_list.name,
                suggestion=_did_you_mean(matter, known),
            )
    stated: list[Stated] = []
    for stage in stages:
        owners = [m for m in matters if record_list.find(m, stage) is not None]
        if not owners:
            of = [row.stage for m in matters for row in record_list.stages(m)]
            raise UsageError(
                N_(
                    "unknown 环节 {stage} of 事项 {matters} in the must-record list "
                    "{list}{suggestion}"
                ),
                stage=repr(stage),
                matters="、".join(matters),
                list=record_list.name,
                suggestion=_did_you_mean(stage, of),
            )
        stated.extend(_stated(row) for m in owners if (row := record_list.find(m, stage)))
    for matter in matters:
        if not any(s.matter == matter for s in stated):
            stated.extend(_stated(row) for row in record_list.stages(matter))
    return list(dict.fromkeys(stated))


def _stated(row: Item) -> Stated:
    return Stated(row.matter, row.stage, row.retention, row.required)
