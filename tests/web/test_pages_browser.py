"""The pages in a real browser (issue 19): Debian's Chromium, headless, driven by Playwright,
against the console served by uvicorn on a free port. A clip plays in the evidence page (the
<video> element reaches `playing`) with the viewer's name and the time over the picture, and
that playback is in the register. Each main page is saved as a screenshot under the test
output ($EVAULT_SCREENSHOTS, else the test's own temporary folder)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import CHROMIUM
from tests.web.conftest import CHROMIUM_ARGS as ARGS
from tests.web.pages_helpers import CASE, PASSWORD, Station, make_station, register_entries
from vault.timeutil import FixedClock
from vault.web.app import create_app

playwright = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")
pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not Path(CHROMIUM).exists(),
    reason="needs ffmpeg and Debian's chromium",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(
    pristine_camera: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Station, str]]:
    root = tmp_path_factory.mktemp("browser")
    camera = root / "camera"
    shutil.copytree(pristine_camera, camera, symlinks=True)
    station = make_station(root, camera, FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC)))
    port = _free_port()
    config = uvicorn.Config(
        create_app(station.vault), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield station, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("EVAULT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


PLAYING = """() => new Promise((resolve, reject) => {
  const video = document.getElementById("video");
  if (!video.paused && video.readyState > 2) { resolve("playing"); return; }
  video.addEventListener("playing", () => resolve("playing"), { once: true });
  video.addEventListener("error", () => reject("media error " + (video.error && video.error.code)));
  video.muted = true;
  video.play().catch((e) => reject(String(e)));
})"""


def test_a_clip_plays_in_the_page_and_its_playback_is_registered(
    served: tuple[Station, str], shots: Path
) -> None:
    station, base = served
    first = station.videos[0]
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page.goto(f"{base}/evidence/{first}")
            assert "/login" in page.url  # not logged in: sent to the login page
            page.fill('input[name="username"]', "张警官")
            page.fill('input[name="password"]', PASSWORD)
            page.press('input[name="password"]', "Enter")
            page.wait_for_url(f"{base}/evidence/{first}")
            assert page.locator("h1").inner_text().startswith("证据详情")
            before = len(register_entries(station.vault))
            page.get_by_role("button", name=re.compile("播放")).click()
            page.wait_for_url(re.compile(rf"/evidence/{first}/play\??$"))
            assert page.evaluate(PLAYING) == "playing"
            page.wait_for_function("() => document.getElementById('player').dataset.state")
            page.wait_for_function("() => document.getElementById('video').currentTime > 0.2")
            # The viewer's name and the time are over the picture.
            video = page.locator("#video").bounding_box()
            mark = page.locator(".watermark").bounding_box()
            assert video and mark
            for start, size in (("x", "width"), ("y", "height")):
                assert video[start] <= mark[start]
                assert mark[start] + mark[size] <= video[start] + video[size]
            text = page.locator(".watermark").inner_text()
            assert f"张警官（{station.badge}）" in text
            assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", text)
            assert page.locator("a[download]").count() == 0
            controls = page.locator("#video").get_attribute("controlslist") or ""
            assert "nodownload" in controls.split()
            page.screenshot(path=str(shots / "evidence-detail.png"))
            views = [e for e in register_entries(station.vault)[before:] if e.event == "view"]
            assert [(v.who, v.what) for v in views] == [("张警官", f"view evidence:{first}")]
            # Leaving the page ends the playback: its copy is removed (the beacon).
            page.goto(f"{base}/evidence")
            page.wait_for_selector("table.results")
            # His case's clip shows its poster; the others (no grant) say so instead.
            page.wait_for_function("() => Array.from(document.images).every((i) => i.complete)")
            page.wait_for_function(
                "() => document.querySelectorAll('img.poster').length === 1"
                " && document.querySelector('img.poster').naturalWidth > 0"
            )
            assert page.locator(".no-poster").count() == len(station.evidence) - 1
            page.screenshot(path=str(shots / "evidence-search.png"), full_page=True)
            for name, path in {
                "cases": "/cases",
                "case": f"/cases/{CASE}",
                "todo": "/todo",
                "reports": "/reports?from=2026-11-23&to=2026-11-23",
            }.items():
                page.goto(base + path)
                assert page.locator("h1").count() == 1
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            keeper = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            keeper.goto(f"{base}/dock")
            keeper.fill('input[name="username"]', "王档案")
            keeper.fill('input[name="password"]', PASSWORD)
            keeper.press('input[name="password"]', "Enter")
            keeper.wait_for_url(f"{base}/dock")
            with keeper.expect_response(f"{base}/dock/status.json", timeout=10_000):
                pass  # polled by the page's own script
            keeper.screenshot(path=str(shots / "dock.png"))
            keeper.goto(f"{base}/todo")
            keeper.screenshot(path=str(shots / "todo.png"), full_page=True)
        finally:
            browser.close()
    from vault.web import media

    assert not [p for p in media.active() if p["evidence_id"] == first]


FOCUS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName, href: el.getAttribute("href") || "", name: el.getAttribute("name") || "",
    cls: el.className || "", outline: parseFloat(style.outlineWidth) || 0,
    outlineStyle: style.outlineStyle, seen: box.width > 0 && box.height > 0
      && box.bottom > 0 && box.right > 0 && box.top < innerHeight && box.left < innerWidth,
  };
}"""
WIDER_THAN_SCREEN = (
    "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
)


def _tab_to(page: Any, wanted: Callable[[dict[str, Any]], bool], most: int = 60) -> dict[str, Any]:
    """Press Tab until the focused element is WANTED; each one on the way must show its focus
    (an outline) and be on the screen."""
    for _ in range(most):
        page.keyboard.press("Tab")
        focused: dict[str, Any] = page.evaluate(FOCUS)
        if focused["tag"] in ("A", "BUTTON", "INPUT", "SELECT", "TEXTAREA"):
            assert focused["outline"] >= 2 and focused["outlineStyle"] != "none", focused
            assert focused["seen"], f"focused off the screen: {focused}"
        if wanted(focused):
            return focused
    raise AssertionError(f"not reached with Tab in {most} presses")


@pytest.mark.parametrize("size", [(768, 1024), (1024, 768), (1280, 800)])
def test_every_page_fits_the_screen_and_works_from_the_keyboard_alone(
    served: tuple[Station, str], size: tuple[int, int]
) -> None:
    """Issue 19: a tablet held either way and the 1280x800 desk screen: no page is wider than
    the screen (wide tables scroll inside their own box), and a records keeper logs in, moves
    between pages, searches and opens a record with the keyboard alone, every focused control
    outlined and on the screen."""
    _, base = served
    width, height = size
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            page.goto(f"{base}/todo")
            assert page.evaluate("() => document.activeElement.name") == "username"  # autofocus
            page.keyboard.type("王档案")
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url(f"{base}/todo")
            # The first Tab offers to skip the menu; Enter goes to the page's own content.
            skip = _tab_to(page, lambda f: True, most=1)
            assert "skip" in skip["cls"] and skip["href"] == "#main"
            page.keyboard.press("Enter")
            assert page.evaluate("() => location.hash") == "#main"
            # Through the menu to the evidence search, its form, and a result.
            page.goto(f"{base}/todo")
            _tab_to(page, lambda f: f["href"] == "/evidence")
            page.keyboard.press("Enter")
            page.wait_for_url(f"{base}/evidence")
            _tab_to(page, lambda f: f["name"] == "case")
            page.keyboard.type(CASE)
            page.keyboard.press("Enter")
            page.wait_for_url(re.compile(r"/evidence\?.*case="))
            first = _tab_to(page, lambda f: re.fullmatch(r"/evidence/\d+", f["href"]) is not None)
            page.keyboard.press("Enter")
            page.wait_for_url(base + first["href"])
            assert page.locator("h1").inner_text().startswith("证据详情")
            pages = [
                "/evidence",
                first["href"],
                "/cases",
                f"/cases/{CASE}",
                "/todo",
                "/register",
                "/dock",
                "/approvals",
                "/reports?from=2026-11-23&to=2026-11-23",
            ]
            for path in pages:
                page.goto(base + path)
                assert page.locator("h1").count() == 1, path
                assert page.evaluate(WIDER_THAN_SCREEN) <= 0, f"{path} is wider than {width} px"
        finally:
            browser.close()
