"""The compliance report's findings as sentences for people (issue 17): each finding is told
from its rule, its subject and the numbers of the report's own sections (sessions, gaps,
clocks, late clips, camera badges, reviews), through the message catalogue (vault.i18n);
never from its English `detail`, which stays for `--json` with the codes.

Subjects read as people say them (会话 3, 证据 12, the case number), officers as
姓名（执法证号 X） where the report knows the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from vault.compliance import clock
from vault.compliance.reasons import GAP_REASONS
from vault.compliance.stops import STOP_REASONS
from vault.i18n import N_, _, ngettext

RULE_LABELS = {
    "RC-1": N_("no spoken opening"),
    "RC-3": N_("interruption not explained"),
    "RC-4": N_("stop record not reviewed"),
    "RC-5": N_("must-record activity not recorded"),
    "IN-1": N_("uploaded late"),
    "DV-1": N_("camera user does not match"),
    "DV-2": N_("clock not accurate"),
    "OV-3": N_("spot check or verification found a problem"),
    "IN-6": N_("the same file from several cameras"),
    "OV-4": N_("clip numbers missing on the camera"),
    "DV-3": N_("camera handed out without a good pre-use check"),
    "DV-5": N_("camera lost or damaged"),
    "DV-6": N_("camera misused"),
}
CUSTODY = {
    "low_battery": N_(
        "The camera was handed out with {battery} percent battery; "
        "at least {min} percent is required."
    ),
    "low_space": N_(
        "The camera was handed out with {free} GB free; at least {min} GB is required."
    ),
    "clock_off": N_("The camera was handed out with its clock off."),
    "no_check": N_("The camera was handed out with no pre-use check recorded."),
    "loss": N_("The camera was lost: {note}"),
    "damage": N_("The camera was damaged: {note}"),
    "misuse": N_("The camera was misused: {note}"),
}
FLAGS = {
    clock.OFFSET: N_("the camera clock was off by more than the limit"),
    clock.BEFORE_2000: N_("the camera clock was before 2000 (it had been reset)"),
    clock.AHEAD: N_("the camera clock was ahead of the station (reset or set wrong)"),
    clock.UNKNOWN: N_("the camera clock was not read at docking, times are uncorrected"),
    clock.CREATION_TIME: N_("the time inside the file disagrees with the time in its name"),
    clock.CREATION_LOCAL: N_("the time inside the file is local time marked as UTC"),
    clock.MTIME: N_("the file's modification time disagrees with the time in its name"),
    clock.CLIP_BEFORE_2000: N_("the camera stamped the clip before 2000"),
}
GAP_REASON_WORDS = {
    "device_fault": N_("device fault"),
    "battery": N_("battery low"),
    "storage_full": N_("storage full"),
    "weather": N_("bad weather"),
    "obstruction": N_("obstruction at the scene"),
    "other": N_("other reason"),
}
STOP_REASON_WORDS = {
    "witness_request": N_("at a witness's request"),
    "public_transport": N_("on public transport"),
    "secrets": N_("state or commercial secrets"),
    "privacy": N_("personal privacy"),
    "weather": N_("bad weather"),
    "device_fault": N_("device fault"),
    "obstruction": N_("obstruction at the scene"),
    "force_majeure": N_("force majeure"),
    "other": N_("other reason"),
}
# RC-3, RC-6: the findings of a recording that was not resumed, and of a rejected reason.
UNRESUMED = {
    "unresumed_not_reported": N_(
        "Recording in session {session} stopped and was not resumed; no immediate report "
        "(to whom, when) is recorded."
    ),
    "unresumed_unexplained": N_(
        "Session {session} ended without resuming while case {cases} is open; no written "
        "explanation has been given."
    ),
}
DEADLINES = {"24h": N_("24 hours"), "2 working days": N_("2 working days")}
NARRATION_PRESETS = {  # RC-1: the document whose opening elements were checked
    "shanxi": N_("the Shanxi rules on recording, article 16"),
    "gansu-eco": N_("the Gansu ecology and environment rules on recording, article 12"),
    "gansu-radio": N_("the Gansu radio and television rules on recording, articles 16 and 17"),
    "pingdingshan": N_("the Pingdingshan rules on audio-visual records, articles 8 and 9"),
    "xiangxi": N_("the Xiangxi rules on recording, article 7"),
}
VERIFY_CLASSES = {
    "chains": N_("the audit chain or the access register does not hold against its anchors"),
    "objects": N_("a sealed file is missing or does not match its fingerprint"),
    "rows": N_("a database record does not match the seal record of its file"),
    "grants": N_("a grant or revocation does not match the access register"),
    "retention": N_("the database's retention differs from the store's own"),
    "protection": N_("a sealed file is not protected on disk as it was sealed"),
}
SUBJECTS = {
    "session": N_("session {id}"),
    "gap": N_("interruption {id}"),
    "evidence": N_("evidence {id}"),
    "dock": N_("docking {id}"),
    "register": N_("register entry {id}"),
    "audit": N_("audit record {id}"),
    "grant": N_("grant {id}"),
    "stop_record": N_("stop record {id}"),
    "device": N_("camera {id}"),
}
KNOWN = {  # the report's `known` and `unknown`: the values each filter can be given
    "unit": N_("units"),
    "officer_id": N_("officers"),
    "device_id": N_("cameras"),
}
COPIED = "copied_between_cameras"
_CODE = re.compile(r"[a-z][a-z0-9_]*")


def words(table: Mapping[str, str], code: str, fallback: Mapping[str, str] | None = None) -> str:
    """A code's words in the current language; an unknown code never shows as itself."""
    if code in table:
        return _(table[code])
    return (fallback or {}).get(code) or _("(not described)")


def joined(items: Iterable[str]) -> str:
    return _(", ").join(items)


def officer(report: Mapping[str, Any], badge: object, name: object = None) -> str:
    """姓名（执法证号 X）; 执法证号 X where the report knows no name."""
    if badge in (None, ""):
        return _("unknown")
    known = name or (report.get("officers") or {}).get(str(badge))
    if known:
        return _("{name} (badge {badge})").format(name=known, badge=badge)
    return _("badge {badge}").format(badge=badge)


def subject(raw: object) -> str:
    """'session:3' -> 会话 3; 'case:环罚〔2026〕31号' -> the case number; 'store' -> 存储库."""
    text = str(raw or "")
    kind, _sep, ident = text.partition(":")
    if kind == "case":
        return ident
    if kind in SUBJECTS and ident:
        return _(SUBJECTS[kind]).format(id=ident)
    if text == "store":
        return _("the store")
    return ident or _("(not described)")


def gap_reason(code: str) -> str:
    """'battery' -> 电量不足; 'stop_record:3 witness_request' -> 暂停记录 3（证人要求）."""
    if code.startswith("stop_record:"):
        number, _sep, why = code.removeprefix("stop_record:").partition(" ")
        return _("stop record {id} ({why})").format(
            id=number, why=words(STOP_REASON_WORDS, why, STOP_REASONS)
        )
    return words(GAP_REASON_WORDS, code, GAP_REASONS)


def deadline(rule: str) -> str:
    return _(DEADLINES[rule]) if rule in DEADLINES else rule


def narration(settings: Mapping[str, Any]) -> list[str]:
    """RC-1: which preset the openings were checked against, and how far (issue 18 part 6)."""
    rule = settings.get("narration") or {}
    if not rule:
        return []
    how = (
        _("the time its elements take to say")
        if rule.get("min_speech_from") == "preset"
        else _("as set")
    )
    lines = [
        _(
            "Openings checked against {document}: {elements}, and the notice that recording "
            "is on; at least {seconds:g} s of speech ({how})"
        ).format(
            document=words(NARRATION_PRESETS, str(rule.get("preset"))),
            elements="、".join(str(e) for e in rule.get("elements") or []) or _("(none listed)"),
            seconds=float(rule.get("min_speech_s") or 0),
            how=how,
        )
    ]
    presence = int(rule.get("presence_only") or 0)
    if not int(rule.get("elements_checked") or 0):
        lines.append(
            _(
                "No opening has a transcript: only whether each recording opens with enough "
                "speech was checked, not which elements were said."
            )
        )
    elif presence:
        lines.append(
            ngettext(
                "{count} opening has no transcript: for it only the presence of speech was "
                "checked.",
                "{count} openings have no transcript: for them only the presence of speech "
                "was checked.",
                presence,
            ).format(count=presence)
        )
    return lines


class Sections:
    """The report's sections by id, for the numbers each finding is told with."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        self.report = report
        self.sessions = {s["session_id"]: s for s in report.get("sessions", [])}
        self.gaps = {g["gap_id"]: (s, g) for s in self.sessions.values() for g in s["gaps"]}
        self.docks = {c["dock_id"]: c for c in report.get("clock", [])}
        self.clips = {c["evidence_id"]: c for c in report.get("clip_times", [])}
        self.late = {r["evidence_id"]: r for r in report.get("late", [])}
        self.badges = {b["dock_id"]: b for b in report.get("camera_badges", [])}
        self.reviews = [r for r in report.get("reviews", []) if r.get("result") == "finding"]
        self._told: dict[str, int] = {}  # DV-1: how many findings of a docking told so far

    def subject(self, finding: Mapping[str, Any]) -> str:
        """Whom or what a finding is about; an interruption names its session."""
        raw = str(finding.get("subject") or "")
        kind, _sep, ident = raw.partition(":")
        if kind == "gap" and ident.isdigit() and (found := self.gaps.get(int(ident))):
            return _("session {session}, interruption {id}").format(
                session=found[0]["session_id"], id=ident
            )
        return subject(raw)

    def sentence(self, finding: Mapping[str, Any]) -> str:
        """One finding as one sentence, with no code and no English word in Chinese."""
        code = finding.get("code")
        detail = str(finding.get("detail") or "")
        if code is None and _CODE.fullmatch(detail):
            code = detail  # a bare code in place of a detail
        if code == COPIED:
            return self.copied(finding)
        if code in UNRESUMED:
            return self.unresumed(finding, str(code))
        if code == "reason_rejected":
            return self.rejected(finding)
        kind, _sep, ident = str(finding.get("subject") or "").partition(":")
        number = int(ident) if ident.isdigit() else None
        told = {
            "RC-1": self.unnarrated,
            "RC-3": self.unexplained,
            "RC-4": self.unreviewed,
            "IN-1": self.late_clip,
            "DV-1": self.badge,
            "DV-2": self.clock_flags,
            "RC-5": self.unrecorded,
            "OV-3": self.oversight,
            "OV-4": self.skipped_numbers,
            "DV-3": self.custody,
            "DV-5": self.custody,
            "DV-6": self.custody,
        }.get(str(finding.get("rule")))
        said = told(finding, kind, number) if told else None
        if said is None:
            return _("See the report's data for this finding.")
        return said

    def unnarrated(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        found = self.sessions.get(number)
        if kind != "session" or found is None:
            return None
        opening = found.get("opening") or {}
        if finding.get("code") == "elements_missing":
            return _("The opening does not state: {elements}.").format(
                elements="、".join(str(e) for e in finding.get("missing") or [])
            )
        if not opening.get("has_audio"):
            return _("The recording opens without a spoken statement: it has no sound.")
        window = self.report["settings"]["narration_window_s"]
        return _(
            "The recording opens without a spoken statement: {speech:g} s of speech in its "
            "first {window:g} s."
        ).format(speech=float(opening.get("speech_s") or 0), window=float(window))

    def unexplained(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        found = self.gaps.get(number)
        if kind != "gap" or found is None:
            return None
        session, gap = found
        return _(
            "Recording in session {session} stopped for {seconds:.0f} s; the resumed recording "
            "does not say why and no written reason was given."
        ).format(session=session["session_id"], seconds=float(gap["seconds"]))

    def unresumed(self, finding: Mapping[str, Any], code: str) -> str:
        """RC-3: a session that stopped and was not resumed (vault.compliance.report)."""
        _kind, _sep, ident = str(finding.get("subject") or "").partition(":")
        cases = [str(c) for c in finding.get("cases") or []]
        return _(UNRESUMED[code]).format(session=ident, cases=joined(cases))

    def rejected(self, finding: Mapping[str, Any]) -> str:
        """RC-6: an interruption whose written reason a reviewer rejected."""
        _kind, _sep, ident = str(finding.get("subject") or "").partition(":")
        found = self.gaps.get(int(ident)) if ident.isdigit() else None
        review = (found[1].get("reason_history") or [{}])[-1].get("review") if found else None
        return _(
            "The written reason for interruption {id} was rejected by {reviewer}: {note}"
        ).format(
            id=ident,
            reviewer=(review or {}).get("by") or _("unknown"),
            note=(review or {}).get("note") or _("(not described)"),
        )

    def unreviewed(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        found = self.gaps.get(number)
        if kind != "gap" or found is None or found[1].get("stop_record_id") is None:
            return None
        return _("Stop record {id} awaits the supervisor's review.").format(
            id=found[1]["stop_record_id"]
        )

    def late_clip(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        row = self.late.get(number)
        if kind != "evidence" or row is None:
            return None
        said = _(
            "{file} was stored {hours:.1f} hours after it was recorded; the deadline is {rule}."
        ).format(file=row["file_name"], hours=float(row["hours"]), rule=deadline(row["rule"]))
        if row.get("approximate"):
            said += _(
                " (The deadline was estimated counting Monday to Friday: the holiday calendar "
                "does not cover that year.)"
            )
        if row.get("reason"):
            return said + _(" Reason given: {reason}").format(reason=row["reason"])
        return said + _(" No reason was given.")

    def badge(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        """DV-1: a docking's first finding is the files' officers, its next the keeper, as
        vault.compliance.badges records them."""
        row = self.badges.get(number)
        if kind != "dock" or row is None:
            return None
        camera = officer(self.report, row["camera_badge"], row.get("camera_name"))
        others = [b for b in row.get("files_officers", []) if b != row["camera_badge"]]
        told = []
        if others:
            told.append(
                _("Camera {device} says it is {camera}'s, but its files name {others}.").format(
                    device=row["device_id"],
                    camera=camera,
                    others=joined(officer(self.report, b) for b in others),
                )
            )
        keeper = row.get("keeper")
        if keeper is not None and keeper != row["camera_badge"]:
            told.append(
                _(
                    "Camera {device} says it is {camera}'s, but the device ledger gives it to "
                    "{keeper}."
                ).format(
                    device=row["device_id"], camera=camera, keeper=officer(self.report, keeper)
                )
            )
        index = self._told.get(str(number), 0)
        self._told[str(number)] = index + 1
        return told[index] if index < len(told) else (told[-1] if told else None)

    def clock_flags(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        if kind == "dock" and (row := self.docks.get(number)) is not None:
            flags = joined(words(FLAGS, f) for f in row["flags"])
            if row.get("offset_s") is None:
                return _("Camera {device} at docking: {flags}.").format(
                    device=row.get("device_id") or _("unknown"), flags=flags
                )
            offset = float(row["offset_s"])
            said = (
                _("Camera {device} at docking, its clock {seconds} s slow: {flags}.")
                if offset < 0
                else _("Camera {device} at docking, its clock {seconds} s fast: {flags}.")
            )
            return said.format(
                device=row.get("device_id") or _("unknown"),
                seconds=f"{abs(offset):.0f}",
                flags=flags,
            )
        if kind == "evidence" and (clip := self.clips.get(number)) is not None:
            flags = joined(words(FLAGS, f) for f in clip["flags"])
            return _("{file}: {flags}.").format(file=clip["file_name"], flags=flags)
        return None

    def unrecorded(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        code = finding.get("code")
        if code == "stage_not_recorded":
            return _(
                "{name}: the stage {stage} of {matter} must be recorded; no recording of it is "
                "linked."
            ).format(
                name=finding.get("case_name"),
                stage=finding.get("stage"),
                matter=finding.get("matter"),
            )
        if code == "closed_without_footage":
            missing = [str(s) for s in finding.get("stages") or []]
            missing += [str(a) for a in finding.get("activities") or []]
            return _(
                "{name} was closed {days} days ago, more than {limit} days, and its recordings "
                "are still not linked ({missing})."
            ).format(
                name=finding.get("case_name"),
                days=finding.get("days"),
                limit=finding.get("limit_days"),
                missing="、".join(missing) or _("(not described)"),
            )
        name = finding.get("case_name")
        activities = finding.get("activities")
        if name is None:  # the report's detail: "NAME (ACTS) must be recorded; ..."
            parsed = re.match(r"(?s)(.*) \((.*)\) must be recorded", str(finding.get("detail")))
            if parsed is None:
                return None
            name, activities = parsed.group(1), parsed.group(2)
        if isinstance(activities, list):
            activities = "、".join(str(a) for a in activities)
        return _(
            "{name} is an activity that must be recorded ({activities}); no recording is "
            "linked to it."
        ).format(name=name, activities=activities)

    def oversight(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        if kind == "session":
            for review in self.reviews:
                if review["session_id"] == number:
                    return _("Spot check by {reviewer}: {note}").format(
                        reviewer=review["reviewer"], note=review["note"]
                    )
            return None
        found = finding.get("class")
        if found is None:  # "altered records (CLASS), found by evault verify on ..."
            parsed = re.search(r"\(([a-z]+)\), found by evault verify", str(finding.get("detail")))
            found = parsed.group(1) if parsed else None
        if found is None:
            return None
        return _("The records check found that {what}.").format(
            what=words(VERIFY_CLASSES, str(found))
        )

    def copied(self, finding: Mapping[str, Any]) -> str:
        """IN-6 (vault.compliance.copies): the cameras one clip came from."""
        cameras = [str(c) for c in finding.get("device_ids") or []]
        said = (
            _("The same file came from two cameras: {cameras}.")
            if len(cameras) <= 2
            else _("The same file came from {count} cameras: {cameras}.")
        ).format(count=len(cameras), cameras=joined(cameras) or _("unknown"))
        if finding.get("file_name"):
            said += _(" File: {file}.").format(file=finding["file_name"])
        return said

    def skipped_numbers(
        self, finding: Mapping[str, Any], kind: str, number: int | None
    ) -> str | None:
        """OV-4 (vault.compliance.sequences): the numbers that never arrived, or what the
        camera's own log says."""
        if finding.get("code") == "log_names_missing":
            return _(
                "The camera's own log ({log}) names {file}, which never reached the vault; "
                "it may have been deleted on the camera."
            ).format(log=finding.get("log"), file=finding.get("file"))
        if finding.get("code") == "log_records_deletion":
            return _("The camera's own log ({log}) records that {file} was deleted on it.").format(
                log=finding.get("log"), file=finding.get("file")
            )
        missing = [str(n) for n in finding.get("missing") or []]
        before = (finding.get("clip_before") or {}).get("file")
        after = (finding.get("clip_after") or {}).get("file")
        if not missing or not before or not after:
            return None
        count = int(finding.get("missing_count") or len(missing))
        shown = (
            missing[0]
            if count == 1
            else _("{first} to {last}").format(first=missing[0], last=missing[-1])
        )
        said = (
            _(
                "Clip number {numbers} never reached the vault: between {before} and {after} "
                "(officer {officer}); it may have been deleted on the camera."
            )
            if count == 1
            else _(
                "Clip numbers {numbers} ({count} clips) never reached the vault: between "
                "{before} and {after} (officer {officer}); they may have been deleted on the "
                "camera."
            )
        )
        return said.format(
            numbers=shown,
            count=count,
            before=before,
            after=after,
            officer=officer(self.report, finding.get("officer_id")),
        )

    def custody(self, finding: Mapping[str, Any], kind: str, number: int | None) -> str | None:
        """DV-3, DV-5, DV-6 (vault.compliance.custody): a custody ledger event."""
        code = str(finding.get("code") or "")
        if code not in CUSTODY:
            return None
        free = finding.get("free_bytes")
        minimum = finding.get("min_bytes")
        said = _(CUSTODY[code]).format(
            battery=finding.get("battery_percent"),
            min=finding.get("min")
            if code == "low_battery"
            else (f"{float(minimum) / 1e9:g}" if minimum is not None else ""),
            free=f"{float(free) / 1e9:.1f}" if free is not None else "",
            note=finding.get("note") or _("(not described)"),
        )
        if finding.get("officer_id"):
            said += _(" Officer: {officer}.").format(
                officer=officer(self.report, finding.get("officer_id"))
            )
        return said
