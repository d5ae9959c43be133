"""A small bureau for the access tests: sealed footage, a case, and staff mapped to OS users
(records keeper, bureau head, the case's handler, another officer)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vault.access.principals import PARTIES, add_principal
from vault.access.requests import Presented
from vault.cases import cases
from vault.context import Vault
from vault.ingest.pipeline import ingest_volume

CASE = "环罚〔2026〕12号"
CASE_NAME = "某厂超标排放"
ALL_DOCUMENTS = (
    "unit_letter",
    "applicant_id",
    "power_of_attorney",
    "authorisation",
    "practising_licence",
)


@dataclass
class Office:
    vault: Vault
    evidence: list[int]  # evidence[:2] are linked to CASE
    papers: Path

    def as_user(self, user: str) -> Vault:
        return Vault(self.vault.settings, clock=self.vault.clock, user=user)

    @property
    def keeper(self) -> Vault:
        return self.as_user("keeper")

    @property
    def boss(self) -> Vault:
        return self.as_user("boss")

    @property
    def handler(self) -> Vault:
        return self.as_user("handler")

    @property
    def other(self) -> Vault:
        return self.as_user("other")

    def documents(self, *kinds: str) -> list[Presented]:
        """Scanned documents (small files standing in for the real scans)."""
        self.papers.mkdir(exist_ok=True)
        found = []
        for kind in kinds:
            path = self.papers / f"{kind}.pdf"
            path.write_bytes(f"%PDF-1.4 scan of {kind}\n".encode())
            found.append(Presented(kind, path))
        return found

    def outsider(self, name: str, kind: str, unit: str = "某单位") -> str:
        """An outside requester; a party or its lawyer is party to CASE (AC-5)."""
        case = CASE if kind in PARTIES else None
        add_principal(
            self.keeper, name, kind, [], unit=unit, id_number="110101199001011234", case=case
        )
        return name


def open_office(vault: Vault, camera: Path, papers: Path) -> Office:
    report = ingest_volume(vault, camera)
    ids = sorted({c.evidence_id for c in report.clips})
    office = Office(vault, ids, papers)
    add_principal(office.keeper, "王档案", "staff", ["records_keeper"], unit="一大队")
    add_principal(
        office.keeper,
        "李局长",
        "staff",
        ["approver"],
        unit="局领导",
        os_user="boss",
        approver_level="head",  # AC-0: the bureau head
    )
    add_principal(
        office.keeper,
        "赵办案",
        "staff",
        ["officer"],
        unit="一大队",
        officer="010203",
        os_user="handler",
    )
    add_principal(
        office.keeper,
        "钱其他",
        "staff",
        ["officer"],
        unit="二大队",
        officer="999999",
        os_user="other",
    )
    # EV-1: the case records where its footage was recorded (issue 18 part 7).
    cases.create_case(
        vault, CASE, CASE_NAME, "行政处罚", "一大队", ["010203"], ["查封"], place="某厂门口"
    )
    cases.link(vault, CASE, ids[:2], [])
    return office
