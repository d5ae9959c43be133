"""The web console's fixtures: a small bureau (tests/access_office.py) with web passwords, a
Starlette TestClient on it, and for the browser tests Debian's chromium driven by Playwright
against a real `evault serve --web` process on a free port, its pages' screenshots saved in
$EVAULT_TEST_SCREENSHOTS (or the test's folder) for a person to look at."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.access_office import Office, open_office
from tests.conftest import EVAULT, ROOT, TEST_CONFIG, database_url_for, make_settings
from vault.context import Vault
from vault.timeutil import FixedClock
from vault.web.accounts import set_password
from vault.web.app import create_app

CHROMIUM = Path(os.environ.get("EVAULT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "正确的密码-correct-horse"
WEB = {"failure_delay_s": 0, "max_failures": 3, "lockout_minutes": 15, "idle_minutes": 30}
# Who logs in: the records keeper, the bureau head (an approver), the case's handler and
# another officer, as tests/access_office.py makes them.
KEEPER, BOSS, HANDLER, OTHER = "王档案", "李局长", "赵办案", "钱其他"


@pytest.fixture
def office(home: Path, clock: FixedClock, camera: Path, tmp_path: Path) -> Office:
    vault = Vault(make_settings(home, web=WEB), clock=clock, user="tester")
    made = open_office(vault, camera, tmp_path / "papers")
    for name in (KEEPER, BOSS, HANDLER, OTHER):
        set_password(made.vault, name, PASSWORD)
    return made


@pytest.fixture
def client(office: Office) -> Iterator[TestClient]:
    with TestClient(create_app(office.vault), base_url="http://127.0.0.1") as made:
        yield made


def form_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf": form_csrf(page.text)},
        follow_redirects=False,
    )


def session_csrf(client: TestClient) -> str:
    """The logged-in session's CSRF token, as every page's logout form carries it."""
    return form_csrf(client.get("/approvals").text)


# Browser tests ---------------------------------------------------------------------------


def need_chromium() -> None:
    """Skip where chromium or Playwright is missing, saying why; under CI=true that fails
    (scripts/setup installs both)."""
    reason = ""
    if not CHROMIUM.exists():
        reason = f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "needs Playwright for Python (pip install playwright)"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def screenshot_dir(fallback: Path) -> Path:
    folder = Path(os.environ.get("EVAULT_TEST_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Station:
    """A home made with the CLI and `evault serve --web` serving it."""

    home: Path
    url: str
    env: dict[str, str]
    shots: Path
    server: subprocess.Popen[bytes]

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*EVAULT, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=300,
            check=False,
        )
        return done

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.cli(*args, stdin=stdin)
        assert done.returncode == 0, f"evault {' '.join(args)}: {done.stderr}"
        return done.stdout


def _papers(folder: Path) -> dict[str, Path]:
    """A court's unit letter as a real one-page PDF and the applicant's ID as a PNG."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=16)
    pdf.cell(text="Unit letter: request for the footage of case 12 (test document)")
    letter = folder / "unit_letter.pdf"
    pdf.output(str(letter))
    card = Image.new("RGB", (480, 300), "#dfe8f2")
    ImageDraw.Draw(card).rectangle((20, 20, 160, 200), outline="#334", width=3)
    ImageDraw.Draw(card).text((190, 60), "ID card (test)", fill="#112")
    applicant = folder / "applicant_id.png"
    card.save(applicant)
    return {"unit_letter": letter, "applicant_id": applicant}


@pytest.fixture(scope="module")
def station(pristine_camera: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    need_chromium()
    base = tmp_path_factory.mktemp("web-station")
    home = base / "home"
    home.mkdir()
    url = database_url_for(home)
    config = home / "vault.toml"
    web = "".join(f"{key} = {value}\n" for key, value in WEB.items())
    config.write_text(
        TEST_CONFIG + (f'[database]\nurl = "{url}"\n' if url else "") + f"[web]\n{web}"
    )
    env = {
        **os.environ,
        "EVAULT_HOME": str(home),
        "EVAULT_CONFIG": str(config),
        "LANG": "C.UTF-8",
    }
    env.pop("EVAULT_SOCKET", None)
    camera = base / "camera"
    shutil.copytree(pristine_camera, camera, symlinks=True)
    port = free_port()
    server = subprocess.Popen(
        [
            *EVAULT,
            "--socket",
            str(base / "s.sock"),
            "serve",
            "--as-root",
            "--web",
            f"127.0.0.1:{port}",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(base / "serve.log").open("wb"),
    )
    st = Station(home, f"http://127.0.0.1:{port}", env, screenshot_dir(base / "shots"), server)
    try:
        for _ in range(600):
            if "web console on" in (base / "serve.log").read_text(errors="replace"):
                break
            assert server.poll() is None, (base / "serve.log").read_text()
            time.sleep(0.05)
        else:
            raise AssertionError((base / "serve.log").read_text())
        # The bureau, made with the CLI as an operator would (in-process: root's home).
        st.ok("ingest", str(camera))
        st.ok("principal", "add", KEEPER, "--role", "records_keeper", "--unit", "一大队")
        st.ok(
            "principal",
            "add",
            BOSS,
            "--role",
            "approver",
            "--approver-level",
            "head",
            "--unit",
            "局领导",
        )
        st.ok(
            "principal",
            "add",
            HANDLER,
            "--role",
            "officer",
            "--officer",
            "010203",
            "--unit",
            "一大队",
        )
        st.ok("principal", "add", OTHER, "--role", "officer", "--officer", "999999")
        for name in (BOSS, HANDLER, OTHER):
            st.ok("principal", "password", name, stdin=PASSWORD + "\n")
        yield st
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(station: Station) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    made = context.new_page()
    try:
        yield made
    finally:
        context.close()


def browser_log_in(page: Any, station: Station, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{station.url}/login")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
