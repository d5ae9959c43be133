"""The docs tell the same story as the code (issue 14): every shell block marked runnable in
README.md, docs/*.md and CONTRIBUTING.md runs as written in a fresh vault, every relative
link resolves, and README stays a short page that links the four documents."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, evault_env

README = ROOT / "README.md"
DOCUMENTS = ("docs/ARCHITECTURE.md", "docs/OPERATIONS.md", "docs/TESTING.md", "CONTRIBUTING.md")
PAGES = (README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md")))
MARK = "<!-- runnable -->"
SHELL_FENCE = re.compile(r"^```(sh|bash)\s*$")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BLOCK_TIMEOUT_S = 300  # generous: a shared, loaded test machine; a block takes seconds


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _outside_code(path: Path) -> list[tuple[int, str]]:
    """The page's lines (numbered from 1) that are not inside a fenced code block."""
    kept, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append((number, line))
    return kept


def runnable_blocks() -> tuple[list[tuple[str, str]], list[str]]:
    """Every marked block as (page:line, script), and the marks not followed by a shell block."""
    blocks, misplaced = [], []
    for path in PAGES:
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if line.strip() != MARK:
                continue
            where = f"{_name(path)}:{index + 1}"
            if index + 1 >= len(lines) or not SHELL_FENCE.match(lines[index + 1]):
                misplaced.append(where)
                continue
            body = []
            for text in lines[index + 2 :]:
                if text.startswith("```"):
                    break
                body.append(text)
            else:
                misplaced.append(where)  # a fence never closed
                continue
            blocks.append((where, "\n".join(body) + "\n"))
    return blocks, misplaced


BLOCKS, MISPLACED = runnable_blocks()


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for _, line in _outside_code(path):
        if match := re.match(r"^#{1,6}\s+(.*)$", line):
            slug, n = _slug(match.group(1)), 0
            while (f"{slug}-{n}" if n else slug) in found:
                n += 1
            found.add(f"{slug}-{n}" if n else slug)
    return found


def _relative_links(path: Path) -> list[tuple[int, str]]:
    links = []
    for number, line in _outside_code(path):
        for target in LINK.findall(line):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:, file:
                links.append((number, target))
    return links


def test_the_pages_have_runnable_blocks_and_every_mark_is_on_a_shell_block() -> None:
    assert BLOCKS, "no block is marked runnable"
    assert MISPLACED == [], f"{MARK} must be the line before a ```sh fence: {MISPLACED}"


@pytest.mark.parametrize(("where", "script"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_a_runnable_block_runs_as_written_in_a_fresh_vault(
    where: str, script: str, home: Path
) -> None:
    if "make-sample-camera" in script and shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (scripts/setup installs it)")
    env = evault_env(home)  # a fresh EVAULT_HOME with the tests' configuration
    env.pop("EVAULT_SOCKET", None)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    run = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    assert run.returncode == 0, (
        f"{where} exited {run.returncode}:\n{script}"
        f"--- stdout\n{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-3000:]}"
    )


def test_the_readme_is_under_200_lines() -> None:
    assert len(README.read_text().splitlines()) < 200


def test_the_readme_links_the_four_documents() -> None:
    targets = {target.partition("#")[0] for _, target in _relative_links(README)}
    assert set(DOCUMENTS) <= targets
    for document in DOCUMENTS:
        assert (ROOT / document).is_file(), document


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_resolves_to_a_file_and_a_heading(page: Path) -> None:
    broken = []
    for number, target in _relative_links(page):
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        if not path.exists():
            broken.append(f"{_name(page)}:{number}: {target} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{_name(page)}:{number}: {target} (no such heading)")
    assert broken == []
