"""The shipped units work together on one vault (issue 13): one account, one home, one
configuration, and the service's socket where the CLI looks for it."""

from __future__ import annotations

import configparser
from pathlib import Path

from vault.client import DEFAULT_SOCKET

UNITS = Path(__file__).resolve().parents[2] / "systemd"


def _unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def _env_lines(path: Path) -> dict[str, str]:
    """Environment= lines (repeated keys: configparser keeps only the last)."""
    found = {}
    for line in path.read_text().splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            found[name] = value
    return found


def test_every_service_runs_as_the_vault_account_on_one_home() -> None:
    services = sorted(UNITS.glob("*.service"))
    assert {p.name for p in services} >= {
        "evault.service",
        "evault-dock.service",
        "evault-media.service",
        "evault-purge.service",
        "evault-uploader.service",
        "evault-verify.service",
    }
    homes, configs, users, binaries = set(), set(), set(), set()
    for path in services:
        section = _unit(path)["Service"]
        env = _env_lines(path)
        users.add((section.get("User"), section.get("Group")))
        homes.add(env.get("EVAULT_HOME"))
        configs.add(env.get("EVAULT_CONFIG"))
        assert section.get("UMask") == "0077", path.name
        assert env["EVAULT_HOME"] in section.get("ReadWritePaths", "").split(), path.name
        binaries.add(section["ExecStart"].split()[0])
    assert users == {("evault", "evault")}
    assert homes == {"/var/lib/evidence-vault"}
    assert configs == {"/etc/evidence-vault/vault.toml"}
    assert len(binaries) == 1


def test_the_service_socket_is_where_clients_look() -> None:
    section = _unit(UNITS / "evault.service")["Service"]
    assert section["Type"] == "notify"
    assert section["ExecStart"].endswith("evault serve")
    assert f"/run/{section['RuntimeDirectory']}/evault.sock" == DEFAULT_SOCKET
    assert section["RuntimeDirectoryMode"] == "0755"


def test_the_dock_is_not_root_and_keeps_only_what_mounting_needs() -> None:
    section = _unit(UNITS / "evault-dock.service")["Service"]
    assert section["User"] == "evault"
    assert set(section["AmbientCapabilities"].split()) == {"CAP_SYS_ADMIN", "CAP_LINUX_IMMUTABLE"}
    assert set(section["CapabilityBoundingSet"].split()) == {
        "CAP_SYS_ADMIN",
        "CAP_LINUX_IMMUTABLE",
    }


def test_every_timer_starts_a_shipped_service() -> None:
    for timer in UNITS.glob("*.timer"):
        assert (UNITS / timer.name.replace(".timer", ".service")).exists(), timer.name


def test_verify_runs_daily_and_only_a_finding_fails_it() -> None:
    """Issue 15: `evault verify --json` every day; exit 10 (warnings only) is a success."""
    section = _unit(UNITS / "evault-verify.service")["Service"]
    assert section["Type"] == "oneshot"
    assert section["ExecStart"].split()[1:] == ["verify", "--json"]
    assert section["SuccessExitStatus"].split() == ["10"]
    assert _unit(UNITS / "evault-verify.timer")["Timer"]["OnCalendar"] == "daily"
