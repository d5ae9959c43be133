"""The trust boundary (issue 13), with real OS users made by the test: the vault runs as a
service account of its own, people reach it only over its socket, who they are comes from
the kernel, and one policy (the table in docs/ARCHITECTURE.md) decides every command.

Needs root (useradd, setpriv); skipped with the reason elsewhere, failing under CI=true.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_CONFIG, database_url_for
from vault.service import policy

EVAULT = str(ROOT / ".venv" / "bin" / "evault")
PYTHON = str(ROOT / ".venv" / "bin" / "python")
ROLES = {
    "keeper": ["records_keeper"],
    "boss": ["approver"],
    "officer": ["officer"],
    "auditor": ["auditor"],
    "legal": ["legal"],
    "unmapped": [],
}


def _need_root() -> None:
    reason = ""
    if os.geteuid() != 0:
        reason = "needs root to make OS users (useradd) and act as them (setpriv)"
    elif not shutil.which("useradd") or not shutil.which("setpriv"):
        reason = "needs useradd and setpriv (passwd, util-linux)"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@dataclass
class Station:
    base: Path
    home: Path
    config: Path
    sock: Path
    service_user: str
    users: dict[str, str]  # role key -> OS user
    server: subprocess.Popen[bytes] | None = None
    made: list[str] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": "/",
            "LANG": "C.UTF-8",
            "EVAULT_LANGUAGE": os.environ.get("EVAULT_LANGUAGE", "en"),  # tests/conftest.py
            "TMPDIR": str(self.base / "tmp"),
            **extra,
        }

    def as_user(self, user: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI as USER over the station's socket, with the environment EXTRA."""
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", EVAULT]
        return subprocess.run(
            [*command, *args],
            env=self.env(EVAULT_SOCKET=str(self.sock), **extra),
            capture_output=True,
            text=True,
            cwd=self.base / "tmp",
            timeout=120,
            check=False,
        )

    def as_root(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Root on the station's own home, in-process (maintenance, bootstrap)."""
        env = self.env(EVAULT_HOME=str(self.home), EVAULT_CONFIG=str(self.config))
        return subprocess.run(
            [EVAULT, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )

    def register(self) -> list[dict[str, object]]:
        done = self.as_root("access", "log", "--json")
        assert done.returncode == 0, done.stderr
        entries = json.loads(done.stdout)
        return entries["entries"] if isinstance(entries, dict) else entries


def _useradd(name: str) -> None:
    subprocess.run(
        ["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def station(pristine_camera: Path) -> Iterator[Station]:
    _need_root()
    tag = secrets.token_hex(3)
    base = Path(tempfile.mkdtemp(prefix="evt-", dir="/var/tmp"))
    base.chmod(0o755)
    (base / "tmp").mkdir(mode=0o1777)
    (base / "tmp").chmod(0o1777)
    users = {role: f"evt{tag}{role[:4]}" for role in ROLES}
    service_user = f"evt{tag}svc"
    st = Station(
        base,
        base / "home",
        base / "home" / "vault.toml",
        base / "run" / "s.sock",
        service_user,
        users,
    )
    try:
        for name in (service_user, *users.values()):
            _useradd(name)
            st.made.append(name)
        probe = subprocess.run(
            [
                "setpriv",
                f"--reuid={service_user}",
                f"--regid={service_user}",
                "--init-groups",
                PYTHON,
                "-c",
                "import vault",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode:
            pytest.skip(f"the checkout's venv is not usable by other users: {probe.stderr[-200:]}")
        st.home.mkdir(mode=0o700)
        url = database_url_for(st.home)
        st.config.write_text(TEST_CONFIG + (f'[database]\nurl = "{url}"\n' if url else ""))
        st.config.chmod(0o600)
        (base / "run").mkdir()
        camera = base / "camera"
        shutil.copytree(pristine_camera, camera, symlinks=True)
        for path in (st.home, st.config, base / "run", camera):
            subprocess.run(["chown", "-R", f"{service_user}:{service_user}", str(path)], check=True)
        st.server = subprocess.Popen(
            [
                "setpriv",
                f"--reuid={service_user}",
                f"--regid={service_user}",
                "--init-groups",
                EVAULT,
                "--socket",
                str(st.sock),
                "serve",
            ],
            env=st.env(EVAULT_HOME=str(st.home), EVAULT_CONFIG=str(st.config)),
            stdout=subprocess.DEVNULL,
            stderr=open(base / "serve.log", "wb"),  # noqa: SIM115
        )
        for _ in range(300):
            if st.sock.exists() or st.server.poll() is not None:
                break
            time.sleep(0.05)
        assert st.sock.exists(), (base / "serve.log").read_text()
        for step in (
            ["ingest", str(camera)],
            ["principal", "add", "王档案", "--role", "records_keeper", "--unit", "一大队"],
        ):
            done = st.as_root(*step)
            assert done.returncode == 0, done.stderr
        for role, roles in ROLES.items():
            if not roles:
                continue
            extra = ["--officer", "010203"] if role == "officer" else []
            role_args = [a for r in roles for a in ("--role", r)]
            done = st.as_root(
                "principal",
                "add",
                f"测试{role}",
                *role_args,
                "--unit",
                "一大队",
                "--user",
                users[role],
                *extra,
            )
            assert done.returncode == 0, done.stderr
        yield st
    finally:
        if st.server is not None:
            st.server.terminate()
            st.server.wait(timeout=30)
        for name in st.made:
            subprocess.run(["userdel", name], capture_output=True, check=False)
        subprocess.run(["chattr", "-R", "-i", str(base)], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def _policy_refusal(action: str, stderr: str) -> bool:
    """Whether STDERR is the policy's own refusal of ACTION (not a scope's or a record's)."""
    return f"({action}) needs the" in stderr or f"({action}) is for the vault's" in stderr


def _refused_entries(station: Station, os_user: str) -> list[dict[str, object]]:
    return [e for e in station.register() if e["event"] == "refused" and e["os_user"] == os_user]


def test_user_root_in_the_environment_makes_nobody_root(station: Station) -> None:
    unmapped = station.users["unmapped"]
    spoof = {"USER": "root", "LOGNAME": "root", "SUDO_USER": "root", "SUDO_UID": "0"}
    done = station.as_user(
        unmapped,
        "case",
        "create",
        "伪〔2026〕1号",
        "--name",
        "x",
        "--type",
        "行政处罚",
        "--unit",
        "一大队",
        **spoof,
    )
    assert done.returncode == 3, done.stderr
    assert unmapped in done.stderr and "root" not in done.stderr.replace(unmapped, "")
    entries = _refused_entries(station, unmapped)
    assert entries and all(e["handled_by"] is None for e in entries)
    # Root's principal (the records keeper) could have done it; the officer cannot either.
    officer = station.as_user(station.users["officer"], "access", "log", "--json", **spoof)
    assert officer.returncode == 3 and "测试officer" in officer.stderr


def test_an_unmapped_user_is_refused_and_registered(station: Station, tmp_path: Path) -> None:
    unmapped = station.users["unmapped"]
    before = len(_refused_entries(station, unmapped))
    out = station.base / "tmp" / f"poster-{secrets.token_hex(2)}.jpg"
    attempts = [
        (
            "case.create",
            [
                "case",
                "create",
                "环罚〔2026〕99号",
                "--name",
                "x",
                "--type",
                "行政处罚",
                "--unit",
                "一大队",
            ],
        ),
        ("evidence.hold", ["evidence", "hold", "1", "--reason", "x"]),
        ("purge.run", ["purge", "run"]),
        ("evidence.thumbnail", ["evidence", "thumbnail", "1", str(out)]),
    ]
    for action, args in attempts:
        done = station.as_user(unmapped, *args)
        assert done.returncode == 3, (args, done.stderr)
        assert _policy_refusal(action, done.stderr)
        assert "\n" not in done.stderr.strip() and "Traceback" not in done.stderr
    assert not out.exists()
    refused = _refused_entries(station, unmapped)[before:]
    assert len(refused) == len(attempts)
    for entry, (action, _) in zip(refused, attempts, strict=True):
        assert f"({action})" in str(entry["detail"])


def test_a_caller_home_or_config_reaches_no_other_vault(station: Station) -> None:
    unmapped = station.users["unmapped"]
    theirs = {"EVAULT_HOME": str(station.home), "EVAULT_CONFIG": str(station.config)}
    # Without the socket the caller cannot open the service's home in-process.
    command = ["setpriv", f"--reuid={unmapped}", f"--regid={unmapped}", "--init-groups"]
    done = subprocess.run(
        [*command, EVAULT, "evidence", "list", "--json"],
        env=station.env(**theirs),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and done.stdout == ""
    # Through the socket, the service's own settings count, and the caller is still nobody.
    done = station.as_user(unmapped, "evidence", "list", "--json", **theirs)
    assert done.returncode == 3 and done.stdout == ""
    # The database file itself is out of reach.
    script = (
        f"import sqlite3; sqlite3.connect({str(station.home / 'vault.db')!r}).execute('select 1')"
    )
    done = subprocess.run(
        [*command, PYTHON, "-c", script],
        env=station.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "unable to open" in done.stderr


def test_no_file_of_the_vault_is_readable_by_group_or_others(station: Station) -> None:
    found = subprocess.run(
        ["find", str(station.home), "(", "-perm", "-o=r", "-o", "-perm", "-g=r", ")"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert found == []
    assert station.home.stat().st_mode & 0o777 == 0o700


def test_the_architecture_doc_prints_the_policy_table() -> None:
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    start = page.index("<!-- policy table -->") + len("<!-- policy table -->")
    end = page.index("<!-- /policy table -->")
    assert page[start:end].strip() == policy.table_markdown()


def _matrix(tag: str, out: Path) -> list[tuple[str, list[str]]]:
    return [
        ("ingest", ["ingest", "/nonexistent"]),
        ("dock.run", ["dock", "--replay", "/nonexistent", "--exit-when-idle"]),
        ("dock.status", ["dock", "status", "--json"]),
        ("dock.udev-rules", ["dock", "udev-rules"]),
        ("device.assign", ["device", "assign", "3100001", "010203"]),
        ("device.ledger", ["device", "ledger", "3100001"]),
        ("device.checkout", ["device", "checkout", "3100001", "010203", "--battery", "90"]),
        ("device.return", ["device", "return", "3100001"]),
        ("device.event", ["device", "event", "3100001", "fault", "--note", "lens cracked"]),
        ("device.custody", ["device", "custody", "3100001", "--json"]),
        ("evidence.list", ["evidence", "list", "--json"]),
        ("evidence.show", ["evidence", "show", "1", "--json"]),
        ("evidence.verify", ["evidence", "verify", "1", "--json"]),
        ("verify", ["verify", "--no-objects", "--json"]),
        ("verify.seal-missing", ["verify", "--seal-missing", "--no-objects", "--json"]),
        (
            "evidence.classify",
            [
                "evidence",
                "classify",
                "1",
                "--class",
                "long_term",
                "--category",
                "dispute",
                "--reason",
                "r",
            ],
        ),
        ("evidence.hold", ["evidence", "hold", "1", "--reason", "r"]),
        ("evidence.release", ["evidence", "release", "9999", "--reason", "r"]),
        ("evidence.mark", ["evidence", "mark", "1", "privacy", "--reason", "r"]),
        ("evidence.redact", ["evidence", "redact", "1", "--mute", "0-1"]),
        ("evidence.view", ["evidence", "view", "1", "--player", "true"]),
        ("evidence.thumbnail", ["evidence", "thumbnail", "1", str(out / "p.jpg")]),
        ("evidence.contact-sheet", ["evidence", "contact-sheet", "1", str(out / "c.jpg")]),
        ("evidence.export", ["evidence", "export", "1", "--out", str(out / "pkg")]),
        ("evidence.discs", ["evidence", "discs", "1", "--out", str(out / "discs")]),
        (
            "case.create",
            ["case", "create", f"M{tag}", "--name", "n", "--type", "行政处罚", "--unit", "一大队"],
        ),
        ("case.link", ["case", "link", "NOCASE", "1"]),
        ("case.unlink", ["case", "unlink", "NOCASE", "1", "--reason", "r"]),
        ("case.close", ["case", "close", "NOCASE"]),
        ("case.litigation", ["case", "litigation", "NOCASE", "--start", "--reason", "r"]),
        ("case.list", ["case", "list", "--json"]),
        ("case.show", ["case", "show", "NOCASE", "--json"]),
        ("purge.plan", ["purge", "plan", "--json"]),
        ("purge.draw", ["purge", "list", "draw", "--json"]),
        ("purge.lists", ["purge", "list", "show", "--json"]),
        ("purge.mark", ["purge", "list", "mark", "9999", "--no-value"]),
        ("purge.sign", ["purge", "list", "sign", "9999"]),
        ("purge.run", ["purge", "run", "--json"]),
        ("media.run", ["media", "run", "--until-idle"]),
        ("media.jobs", ["media", "jobs", "--json"]),
        ("media.retry", ["media", "retry"]),
        ("store.check", ["store", "check"]),
        ("store.rebuild-index", ["store", "rebuild-index"]),
        ("store.init", ["store", "init"]),
        ("store.drain", ["store", "drain"]),
        (
            "access.request",
            ["access", "request", "--scope", "evidence:1", "--action", "view", "--reason", "r"],
        ),
        ("access.approve", ["access", "approve", "9999", "--reason", "r"]),
        ("access.deny", ["access", "deny", "9999", "--reason", "r"]),
        ("access.revoke", ["access", "revoke", "9999", "--reason", "r"]),
        ("access.requests", ["access", "requests", "--json"]),
        ("access.grants", ["access", "grants", "--json"]),
        ("access.show", ["access", "show", "9999", "--json"]),
        (
            "access.document",
            ["access", "show", "9999", "--document", "unit_letter", "--out", str(out / "d.pdf")],
        ),
        ("access.log", ["access", "log", "--json"]),
        ("access.sign", ["access", "sign"]),
        ("principal.add", ["principal", "add", f"法院{tag}", "--type", "法院"]),
        ("principal.map", ["principal", "map", "no-such-user", "no-such-principal"]),
        ("principal.level", ["principal", "level", "no-such-principal", "head"]),
        ("principal.disable", ["principal", "disable", "no-such-principal", "--reason", "r"]),
        ("principal.password", ["principal", "password", "no-such-principal"]),
        ("principal.totp", ["principal", "totp", "no-such-principal"]),
        ("principal.list", ["principal", "list", "--json"]),
        ("unit.add", ["unit", "add", f"单位{tag}", "--alias", f"别名{tag}"]),
        ("unit.alias", ["unit", "alias", "no-such-unit", f"别名2{tag}"]),
        ("unit.list", ["unit", "list", "--json"]),
        ("compliance.scan", ["compliance", "scan", "--json"]),
        ("compliance.late-reason", ["compliance", "late-reason", "1", "--note", "n"]),
        ("compliance.late", ["compliance", "late", "--json"]),
        ("compliance.calendar", ["compliance", "calendar"]),
        ("report.compliance", ["report", "compliance", "--json"]),
        ("session.annotate", ["session", "annotate", "9999", "--reason", "battery", "--note", "n"]),
        (
            "session.unresumed",
            ["session", "unresumed", "9999", "--reason", "battery", "--note", "n"],
        ),
        ("session.review", ["session", "review", "gap:9999", "--result", "accepted"]),
        ("session.list", ["session", "list", "--json"]),
        ("session.gaps", ["session", "gaps", "--all", "--json"]),
        (
            "stop-record.add",
            [
                "stop-record",
                "add",
                "--device",
                "3100001",
                "--officer",
                "999999",
                "--from",
                "2026-11-23T10:00",
                "--to",
                "2026-11-23T10:20",
                "--reason",
                "weather",
                "--basis",
                "b",
            ],
        ),
        ("stop-record.approve", ["stop-record", "approve", "9999"]),
        ("stop-record.list", ["stop-record", "list", "--json"]),
        ("review.sample", ["review", "sample", "--count", "1", "--seed", tag]),
        ("review.record", ["review", "record", "9999", "--result", "ok", "--note", "n"]),
        ("policy.show", ["policy", "--json"]),
        ("todo", ["todo", "--json"]),
    ]


def _cli_commands() -> set[tuple[str, ...]]:
    """Every command path of the Typer app (groups and their commands)."""
    import typer.main

    from vault.cli import app

    root = typer.main.get_command(app)
    found: set[tuple[str, ...]] = set()

    def walk(command: object, path: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            if getattr(command, "invoke_without_command", False) and path:
                found.add(path)
            for name, sub in subs.items():
                walk(sub, (*path, name))
        else:
            found.add(path)

    walk(root, ())
    return found


def test_every_command_is_in_the_matrix_and_every_action_has_an_operation() -> None:
    from vault.service.api import OPERATIONS
    from vault.service.ops import known_operations

    matrix = _matrix("x", Path("/nonexistent"))
    covered = {
        tuple(a for a in args if not a.startswith("-"))[: len(path)]
        for _, args in matrix
        for path in [args]
    }
    for path in _cli_commands() - {("serve",)}:
        assert any(c[: len(path)] == path for c in covered), f"{' '.join(path)} not tested"
    known_operations()
    assert {action for action, _ in OPERATIONS.values()} == set(policy.RULES)


@pytest.mark.slow
def test_every_command_as_every_role_follows_the_policy_table(station: Station) -> None:
    """The permission matrix: an unexpected allow (or refusal) fails."""
    problems = []
    for role, os_user in station.users.items():
        out = Path(tempfile.mkdtemp(prefix=f"m-{role}-", dir=station.base / "tmp"))
        subprocess.run(["chown", f"{os_user}:{os_user}", str(out)], check=True)
        for action, args in _matrix(secrets.token_hex(2), out):
            expected = policy.decide(action, ROLES[role], system=False).allowed
            done = station.as_user(os_user, *args)
            refused = done.returncode == 3 and _policy_refusal(action, done.stderr)
            if refused == expected or "Traceback" in done.stderr:
                problems.append(
                    f"{role} {' '.join(args)}: exit {done.returncode} {done.stderr.strip()[-160:]}"
                )
    assert not problems, "\n".join(problems)
    print(
        f"matrix: {len(ROLES)} identities x {len(_matrix('x', Path('/')))} commands",
        file=sys.stderr,
    )
