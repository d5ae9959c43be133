"""A station for the pages' tests: real footage from the sample camera (ffmpeg), sealed into a
real store with real SQLite, its viewing copies and posters made by the media worker; a
records keeper, an officer who handles the case the footage is linked to, another officer,
an approver and an auditor, each with a web password. Tests use only the web contract's
interface: create_app, set_password and POST /login."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import col, select
from starlette.testclient import TestClient

import vault.service.ops  # noqa: F401  (registers the operations)
from tests.conftest import make_settings
from vault.access.principals import add_principal
from vault.cases import cases
from vault.context import Vault
from vault.db.models import Evidence, Officer, RegisterEntry
from vault.ingest.pipeline import ingest_volume
from vault.media.worker import run_worker
from vault.timeutil import FixedClock
from vault.web.accounts import set_password
from vault.web.app import create_app

PASSWORD = "correct horse 电池 staple"
CASE = "环罚〔2026〕31号"
# principal -> (roles, badge)
PEOPLE = {
    "王档案": (["records_keeper"], None),
    "张警官": (["officer"], None),  # the footage's officer: his badge comes from the camera
    "李警官": (["officer"], "010299"),
    "李局长": (["approver"], None),
    "孙审计": (["auditor"], None),
}


@dataclass
class Station:
    vault: Vault
    clock: FixedClock
    badge: str  # the officer whose camera recorded the footage
    evidence: list[int]
    videos: list[int]


def make_station(root: Path, camera: Path, clock: FixedClock) -> Station:
    home = root / "home"
    home.mkdir()
    settings = make_settings(home, compliance={"record_list": "gansu-eco"})
    keeper = Vault(settings, clock=clock, user="keeper")
    ingest_volume(keeper, camera)
    run_worker(keeper, until_idle=True)
    with keeper.session() as session:
        rows = session.exec(select(Evidence).order_by(col(Evidence.id))).all()
        officer = session.get(Officer, rows[0].officer_pk)
        assert officer is not None
        badge = officer.officer_id
        evidence = [e.id for e in rows if e.id is not None]
        videos = [e.id for e in rows if e.id is not None and e.kind == "video"]
    add_principal(keeper, "王档案", "staff", ["records_keeper"], unit="一大队")
    add_principal(
        keeper, "张警官", "staff", ["officer"], officer=badge, os_user="zhang", unit="一大队"
    )
    add_principal(keeper, "李警官", "staff", ["officer"], officer="010299", os_user="li")
    add_principal(keeper, "李局长", "staff", ["approver"], os_user="boss", approver_level="head")
    add_principal(keeper, "孙审计", "staff", ["auditor"], os_user="audit")
    cases.create_case(
        keeper, CASE, "某厂检查", "行政检查", "一大队", [badge], [],
        matters=["调查取证"], stages=["现场查验", "调查取证"],
    )  # fmt: skip
    cases.link(keeper, CASE, videos[:1], [], stage="现场查验")
    for name in PEOPLE:
        set_password(keeper, name, PASSWORD)
    return Station(keeper, clock, badge, evidence, videos)


def login(client: TestClient, name: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    answer = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def client_for(station: Station, name: str) -> TestClient:
    client = TestClient(create_app(station.vault), base_url="http://127.0.0.1")
    login(client, name)
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no csrf field on the page"
    return found.group(1)


def register_entries(vault: Vault) -> list[RegisterEntry]:
    with vault.session() as session:
        return list(session.exec(select(RegisterEntry).order_by(col(RegisterEntry.id))))
