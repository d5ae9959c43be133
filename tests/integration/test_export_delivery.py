"""Delivering an export package (AC-7, EV-3): built hidden, renamed into place, then
registered; a crash between the two is settled by the next export from its journal, a
failure is undone; never into the vault's own folders; and a package's chain of custody
names only its own records, whatever characters a case number holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.access_office import CASE, Office, open_office
from tests.conftest import ROOT, make_settings
from vault.access import export as access_export
from vault.access import grants, register
from vault.access.export import export, recover_pending_exports
from vault.access.requests import file_request
from vault.cases import cases
from vault.context import Vault
from vault.db.models import Principal, RegisterEntry
from vault.errors import Conflict
from vault.service import api, ops
from vault.timeutil import FixedClock

KEEPER = api.Caller(1000, "keeper", system=False)


@pytest.fixture
def office(vault: Vault, camera: Path, tmp_path: Path) -> Office:
    return open_office(vault, camera, tmp_path / "papers")


def court_grant(office: Office, scope: str = f"case:{CASE}") -> int:
    """A court asks for footage to be exported; the bureau head approves."""
    court = "某区人民法院"
    with office.vault.session() as session:
        known = session.exec(select(Principal).where(Principal.name == court)).first()
    if known is None:
        office.outsider(court, "court", court)
    documents = office.documents("unit_letter", "applicant_id")
    request = file_request(office.keeper, scope, "export", "行政诉讼举证", court, documents)
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意")
    assert grant.id is not None
    return grant.id


def entries(office: Office, event: str | None = None) -> list[RegisterEntry]:
    with office.vault.session() as session:
        query = select(RegisterEntry).order_by(col(RegisterEntry.seq))
        if event is not None:
            query = query.where(RegisterEntry.event == event)
        return list(session.exec(query))


def journals(office: Office) -> list[Path]:
    folder = office.vault.settings.home / "tmp" / "exports"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def leftovers(folder: Path) -> list[Path]:
    """The hidden partial folders an export builds in."""
    return list(folder.glob(".*partial*"))


def fail_at_export(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> list[bool]:
    """register.append raises ERROR for the export event; records whether the package was
    already in place (its SHA256SUMS at --out) when it came to be registered."""
    original = register.append
    in_place: list[bool] = []

    def append(vault: Vault, session: Any, event_name: str, **fields: Any) -> RegisterEntry:
        if event_name == "export":
            in_place.append(Path(fields["detail"]["out"], "SHA256SUMS").is_file())
            raise error
        return original(vault, session, event_name, **fields)

    monkeypatch.setattr(register, "append", append)
    return in_place


# (a) a failure after the rename is undone: neither package nor entry.


def test_a_failure_to_register_removes_the_package_already_in_place(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AC-7: registered only once the package is whole in place, and never delivered
    unregistered: a failing register takes the package away again."""
    grant_id = court_grant(office)
    out = tmp_path / "package"
    in_place = fail_at_export(monkeypatch, RuntimeError("database gone"))
    with pytest.raises(RuntimeError, match="database gone"):
        export(office.keeper, f"case:{CASE}", out, grant_id)
    assert in_place == [True]  # registered after the rename, not before
    assert not out.exists() and not leftovers(tmp_path)
    assert entries(office, "export") == [] and journals(office) == []


def test_a_failed_rename_leaves_no_register_entry(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export that never got into place is not in the register (AC-7)."""
    grant_id = court_grant(office)
    out = tmp_path / "package"
    rename = Path.rename

    def failing(self: Path, target: Any) -> Any:
        if ".partial-" in self.name:
            raise OSError(28, "No space left on device")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OSError, match="No space left"):
        export(office.keeper, f"case:{CASE}", out, grant_id)
    assert not out.exists() and not leftovers(tmp_path)
    assert entries(office, "export") == [] and journals(office) == []


# (b) a crash between the rename and the register is settled from the journal.


def test_a_crash_after_the_rename_is_registered_by_the_next_export(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant_id = court_grant(office)
    out = tmp_path / "package"
    with monkeypatch.context() as patched:
        fail_at_export(patched, KeyboardInterrupt())  # no exception handled: a crash
        with pytest.raises(KeyboardInterrupt):
            export(office.keeper, f"case:{CASE}", out, grant_id)
    assert (out / "SHA256SUMS").is_file() and entries(office, "export") == []
    assert [p.suffix for p in journals(office)] == [".json"]
    journal = json.loads(journals(office)[0].read_text())
    assert journal["out"] == str(out) and journal["grant_id"] == grant_id
    assert journal["action"] == "export" and journal["scope"] == f"case:{CASE}"

    second = export(office.keeper, f"evidence:{office.evidence[0]}", tmp_path / "p2", grant_id)
    assert second.grant_id == grant_id and journals(office) == []
    recovered, fresh = entries(office, "export")
    assert recovered.detail["recovered"] is True and "recovered" not in fresh.detail
    assert (recovered.what, recovered.who, recovered.grant_id) == (
        f"export case:{CASE}",
        "某区人民法院",
        grant_id,
    )
    assert recovered.detail["out"] == str(out)
    assert recovered.detail["sha256sums"] == journal["sha256sums"]
    assert recovered.approver == "李局长" and recovered.documents == fresh.documents
    assert recover_pending_exports(office.vault) == []  # settled once
    assert len(entries(office, "export")) == 2


def test_a_journal_whose_package_is_gone_is_dropped_without_an_entry(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant_id = court_grant(office)
    out = tmp_path / "package"
    with monkeypatch.context() as patched:
        fail_at_export(patched, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            export(office.keeper, f"case:{CASE}", out, grant_id)
    shutil.rmtree(out)  # never delivered after all
    done = recover_pending_exports(office.vault)
    assert [(d["outcome"], d["shown"], d["grant_id"]) for d in done] == [
        ("dropped", str(out), grant_id)
    ]
    assert entries(office, "export") == [] and journals(office) == []


def test_a_journal_left_after_the_commit_adds_no_second_entry(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the entry is committed, before the journal goes: registered once."""
    grant_id = court_grant(office)
    original = access_export._register_export

    def committed_then_crashed(vault: Vault, action: str, fields: dict[str, Any]) -> None:
        original(vault, action, fields)
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(access_export, "_register_export", committed_then_crashed)
        with pytest.raises(KeyboardInterrupt):
            export(office.keeper, f"case:{CASE}", tmp_path / "package", grant_id)
    assert len(journals(office)) == 1
    done = recover_pending_exports(office.vault)
    assert [d["outcome"] for d in done] == ["already-registered"]
    assert len(entries(office, "export")) == 1 and journals(office) == []
    assert (tmp_path / "package" / "SHA256SUMS").is_file()  # delivered, and registered


def test_a_service_build_left_by_a_crash_is_removed_not_registered(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built in the service's own folder for a caller who never received it: not delivered."""
    grant_id = court_grant(office)
    build = office.vault.settings.home / "tmp" / "service" / "call-x" / "out" / "package"
    with monkeypatch.context() as patched:
        fail_at_export(patched, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            export(office.keeper, f"case:{CASE}", build, grant_id, shown_out=tmp_path / "package")
    assert (build / "SHA256SUMS").is_file()
    assert [d["outcome"] for d in recover_pending_exports(office.vault)] == ["removed"]
    assert not build.exists() and entries(office, "export") == [] and journals(office) == []


CHILD = """
import json, sys
from datetime import datetime
from pathlib import Path
from vault.access.export import export
from vault.config import parse_settings
from vault.context import Vault
from vault.timeutil import FixedClock

settings = parse_settings(json.loads(sys.argv[1]))
keeper = Vault(settings, clock=FixedClock(datetime.fromisoformat(sys.argv[2])), user="keeper")
export(keeper, sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]))
"""


def test_an_export_killed_after_the_rename_is_registered_with_recovered(
    office: Office, tmp_path: Path
) -> None:
    """A real SIGKILL at the fault point export.placed (vault/faults.py)."""
    grant_id = court_grant(office)
    out = tmp_path / "package"
    settings = json.dumps(office.vault.settings.model_dump(mode="json"))
    at = office.vault.clock.now().isoformat()
    killed = subprocess.run(
        [sys.executable, "-c", CHILD, settings, at, f"case:{CASE}", str(out), str(grant_id)],
        cwd=ROOT,
        env={**os.environ, "EVAULT_KILL_AT": "export.placed"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    assert (out / "SHA256SUMS").is_file() and entries(office, "export") == []
    assert len(journals(office)) == 1
    done = recover_pending_exports(office.vault)
    assert [(d["outcome"], d["shown"]) for d in done] == [("registered", str(out))]
    (entry,) = entries(office, "export")
    assert entry.detail["recovered"] is True and entry.grant_id == grant_id
    assert journals(office) == [] and not leftovers(tmp_path)


# (c) never into the vault's own folders, never through a symlink.


@pytest.fixture
def office_with_store_elsewhere(
    camera: Path, home: Path, tmp_path: Path, clock: FixedClock
) -> Office:
    """The store and the spool outside the home, as a station may configure them."""
    settings = make_settings(
        home, store={"path": str(tmp_path / "worm"), "spool_path": str(tmp_path / "spool")}
    )
    return open_office(Vault(settings, clock=clock, user="tester"), camera, tmp_path / "papers")


@pytest.mark.parametrize("where", ["home", "store", "spool"])
def test_an_out_inside_the_vaults_own_folders_is_refused(
    office_with_store_elsewhere: Office, tmp_path: Path, where: str
) -> None:
    office = office_with_store_elsewhere
    grant_id = court_grant(office)
    settings = office.vault.settings
    root = {"home": settings.home, "store": settings.store_path, "spool": settings.spool_path}
    out = root[where] / "package"
    before = entries(office)
    with pytest.raises(Conflict, match=f"inside the vault's {where} .*choose a folder outside"):
        export(office.keeper, f"case:{CASE}", out, grant_id)
    assert entries(office) == before and not out.exists() and not leftovers(root[where])


def test_a_symlinked_out_or_a_parent_leading_into_the_home_is_refused(
    office: Office, tmp_path: Path
) -> None:
    grant_id = court_grant(office)
    before = entries(office)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(Conflict, match="is a symbolic link"):
        export(office.keeper, f"case:{CASE}", tmp_path / "link", grant_id)
    (tmp_path / "door").symlink_to(office.vault.settings.home)
    with pytest.raises(Conflict, match="inside the vault's home"):
        export(office.keeper, f"case:{CASE}", tmp_path / "door" / "package", grant_id)
    with pytest.raises(Conflict, match="is a symbolic link"):  # where the service hands it
        export(
            office.keeper,
            f"case:{CASE}",
            tmp_path / "build",
            grant_id,
            shown_out=tmp_path / "link",
        )
    assert entries(office) == before and list(real.iterdir()) == []
    assert not list(office.vault.settings.home.glob("package*"))


def test_the_service_refuses_to_hand_a_package_into_the_home_but_builds_in_its_own_tmp(
    office: Office, tmp_path: Path
) -> None:
    """Through the service the package is built under $EVAULT_HOME/tmp/service and handed
    to the caller's --out: that is the place checked; and the real build place too."""
    ops.known_operations()
    grant_id = court_grant(office)
    home = office.vault.settings.home
    params = {"out": str(home / "package"), "case": CASE, "grant": grant_id}
    refused = api.run(office.vault, KEEPER, "evidence.export", params)
    refused.cleanup()
    assert not refused.ok and refused.exit_code == Conflict.exit_code
    assert f"--out {home / 'package'} lies inside the vault's home" in (refused.error or "")
    assert entries(office, "export") == []
    delivered = api.run(office.vault, KEEPER, "evidence.export", params | {"out": "/srv/pkg"})
    try:
        assert delivered.ok, delivered.error
        assert [name for name, _ in delivered.files] == ["package"]
    finally:
        delivered.cleanup()
    assert entries(office, "export")[0].detail["out"] == "/srv/pkg"
    with pytest.raises(Conflict, match="outside its tmp/: not a build place"):
        export(office.keeper, f"case:{CASE}", home / "x", grant_id, shown_out=tmp_path / "p")


# (d) LIKE wildcards in case numbers.


@pytest.mark.parametrize("wildcard", ["_", "%"])
def test_a_case_number_with_a_like_wildcard_carries_no_other_cases_register_entries(
    office: Office, tmp_path: Path, wildcard: str
) -> None:
    """EV-3: the chain of custody of 环罚〔2026〕1_号 is not that of 环罚〔2026〕12号."""
    number = f"环罚〔2026〕1{wildcard}号"
    assert CASE == "环罚〔2026〕12号"
    cases.create_case(office.vault, number, "另一案", "行政处罚", "一大队", ["010203"], [])
    cases.link(office.vault, number, [office.evidence[2]], [])
    export(office.keeper, f"case:{CASE}", tmp_path / "other", court_grant(office))
    assert any(e.what == f"export case:{CASE}" for e in entries(office, "export"))

    out = tmp_path / "package"
    grant = court_grant(office, f"case:{number}")
    export(office.keeper, f"case:{number}", out, grant, place="某厂门口")  # EV-1
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    (item,) = manifest["evidence"]
    access = [e for e in item["chain_of_custody"] if e["event"].startswith("access.")]
    subjects = {e["subject"] for e in access}
    assert subjects == {f"export case:{number}"}  # its own request and approval
    assert not [e for e in item["chain_of_custody"] if CASE in str(e["subject"])]
