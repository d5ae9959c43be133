"""What `evault verify` finds, by class, each class with its own exit code.

A finding is a problem (something was altered, lost or left unprotected) or a warning
(the vault is sound but not yet as safe as it will be: entries anchored but not yet
signed, a store that cannot make files immutable). The exit code of a run is that of its
most serious class found; --json lists every finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# class: (exit code, what it means for a person), most serious first
CLASSES: dict[str, tuple[int, str]] = {
    "chains": (4, "the audit chain or the access register does not hold against its anchors"),
    "objects": (5, "a sealed object is missing or does not match its SHA-256"),
    "rows": (6, "a database row does not match the seal record of its object"),
    "grants": (7, "a grant or revocation does not match the access register"),
    "retention": (8, "the database's retention differs from the store's own"),
    "protection": (9, "a sealed object is not protected on disk as it was sealed"),
    "warnings": (10, "nothing altered, but not yet as safe as it will be"),
}


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of CLASSES
    subject: str  # "evidence:12", "register:41", "audit:7", "grant:3", "store"
    reason: str  # one line a records keeper can act on

    def __post_init__(self) -> None:
        assert self.kind in CLASSES, self.kind

    def to_json(self) -> dict[str, str]:
        return {"class": self.kind, "subject": self.subject, "reason": self.reason}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # class: how many items checked

    def add(self, kind: str, subject: str, reason: str) -> None:
        self.findings.append(Finding(kind, subject, reason))

    def extend(self, findings: list[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def exit_code(self) -> int:
        codes = [CLASSES[f.kind][0] for f in self.findings]
        return min(codes) if codes else 0

    def to_json(self) -> dict[str, Any]:
        by_class = {
            kind: {
                "exit_code": code,
                "meaning": meaning,
                "checked": self.checked.get(kind, 0),
                "found": [f.to_json() for f in self.findings if f.kind == kind],
            }
            for kind, (code, meaning) in CLASSES.items()
        }
        return {"ok": not self.findings, "exit_code": self.exit_code, "classes": by_class}
