"""A vault with one of everything `evault verify` holds to the store (issue 15): the sample
camera's clips sealed, a derivative, a case with two clips, a hold, a court's request with
documents, its approved export, and a second grant approved and revoked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from tests.access_office import CASE, Office, open_office
from vault.access import grants
from vault.access.export import export
from vault.access.requests import file_request
from vault.cases.retention import place_hold
from vault.context import Vault
from vault.db.models import Derivative, Evidence
from vault.media import derivatives
from vault.store import LocalWormStore


@dataclass
class Scene:
    office: Office
    revoked: int  # a grant the register revoked
    exported: int  # the court's grant, used for an export

    @property
    def vault(self) -> Vault:
        return self.office.vault

    @property
    def store(self) -> LocalWormStore:
        store = self.vault.store
        assert isinstance(store, LocalWormStore)
        return store

    def sql(self, statement: str, **params: object) -> None:
        with self.vault.engine.begin() as connection:
            connection.execute(text(statement), params)

    def evidence(self, evidence_id: int) -> Evidence:
        with self.vault.session() as session:
            return session.get_one(Evidence, evidence_id)

    def path_of(self, key: str) -> Path:
        return self.store.path_for(key)


def add_derivative(vault: Vault, evidence_id: int, tmp: Path) -> Derivative:
    """A poster sealed and linked as the media worker does it (its own seal record)."""
    with vault.session() as session:
        until = session.get_one(Evidence, evidence_id).retain_until
    picture = tmp / f"poster-{evidence_id}.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0 poster of " + str(evidence_id).encode())
    sealed = derivatives.seal(vault, picture, until)
    with vault.session() as session:
        row = derivatives.link(
            vault, session, evidence_id, "poster", sealed, encoder="pillow", params={"frames": 1}
        )
        session.commit()
    return row


def build_scene(vault: Vault, camera: Path, tmp: Path) -> Scene:
    office = open_office(vault, camera, tmp / "papers")
    for evidence_id in (office.evidence[0], office.evidence[-1]):
        add_derivative(vault, evidence_id, tmp)
    place_hold(office.keeper, office.evidence[1], "复议期间保全")
    court = office.outsider("某区人民法院", "court", "某区人民法院")
    request = file_request(
        office.keeper,
        f"case:{CASE}",
        "export",
        "行政诉讼举证",
        court,
        office.documents("unit_letter", "applicant_id"),
    )
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意")
    assert grant.id is not None
    export(office.keeper, f"case:{CASE}", tmp / "package", grant.id, place="某厂门口")
    second = file_request(
        office.keeper,
        f"evidence:{office.evidence[0]}",
        "export",
        "复核",
        court,
        office.documents("unit_letter", "applicant_id"),
    )
    assert second.id is not None
    revoked = grants.approve(office.boss, second.id, "同意")
    assert revoked.id is not None
    grants.revoke(office.boss, revoked.id, "已撤回申请")
    return Scene(office, revoked.id, grant.id)
