"""Units are a registry with aliases, and a filter that matches nothing says so (issue 16,
part 5): README's own `report compliance --unit 一大队` over a camera that calls its unit
"环境监察支队一大队" (in DEVICE.TXT) or reports only its unit code over USB.

Real cameras (scripts/make-sample-camera), a real ingest, the real CLI for the registry and
the report; the dock's USB report of the unit is given to the ingest as the dock gives it
(DockContext).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.conftest import MAKE_SAMPLE_CAMERA, run_evault
from vault.cases import units
from vault.compliance.report import ReportFilters, build_report
from vault.context import Vault
from vault.db.models import AuditEvent, Unit, UnitAlias
from vault.errors import Conflict, NotFound, VaultError
from vault.ingest.pipeline import ingest_volume
from vault.ingest.run import DockContext

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

CAMERA_UNIT = "环境监察支队一大队"  # what the sample camera's DEVICE.TXT says
UNIT_CODE = "330100000001"  # what camera 3100002 reports over USB (GA/T 947.4 ZFY_INFO)


def _second_camera(tmp_path: Path) -> Path:
    """Camera 3100002 of officer 010299: its DEVICE.TXT names no unit (only the dock hears
    the unit code, over USB); other footage than the first camera's."""
    path = tmp_path / "cam2"
    subprocess.run(
        [str(MAKE_SAMPLE_CAMERA), str(path), "--quiet", "--no-narration", "--seconds", "3",
         "--device-id", "3100002", "--officer", "010299", "--start", "2026-11-23 10:00:00"],
        check=True,
    )  # fmt: skip
    info = path / "DEVICE.TXT"
    lines = info.read_text("utf-8").splitlines()
    info.write_text("".join(f"{x}\n" for x in lines if not x.startswith("unit=")), "utf-8")
    return path


@pytest.fixture
def bureau(vault: Vault, home: Path, camera: Path, tmp_path: Path) -> Vault:
    """Two cameras docked; principals and a must-record case that say 一大队."""
    ingest_volume(vault, camera)
    ingest_volume(vault, _second_camera(tmp_path), context=DockContext(camera_unit_id=UNIT_CODE))
    for args in (
        ["principal", "add", "王档案", "--role", "records_keeper", "--unit", "一大队"],
        ["principal", "add", "赵办案", "--role", "officer", "--officer", "010203",
         "--unit", "一大队"],
        ["case", "create", "环罚〔2026〕40号", "--name", "某厂查封", "--type", "行政强制",
         "--unit", "一大队", "--activity", "查封"],
    ):  # fmt: skip
        done = run_evault(home, *args)
        assert done.returncode == 0, (args, done.stderr)
    return vault


def _report(vault: Vault, **filters: Any) -> dict[str, Any]:
    return build_report(vault, ReportFilters(**filters))


def _docks(report: dict[str, Any]) -> set[str]:
    return {d["device_id"] for d in report["clock"]}


def _late_and_clock_devices(report: dict[str, Any]) -> set[str]:
    owners = report["summary"]["by_officer_device"]
    return {row["device_id"] for row in owners if row["clips"]}


def test_unregistered_unit_strings_match_only_themselves_and_an_empty_filter_says_so(
    bureau: Vault,
) -> None:
    """As before the registry: 一大队 finds the case only (the clips' officer and camera say
    otherwise); a misspelt unit matches nothing, says so and names the units that exist."""
    report = _report(bureau, unit="一大队")
    assert report["matched_records"] == {"dockings": 0, "clips": 0, "sessions": 0, "cases": 1}
    assert [f["subject"] for f in report["findings"]] == ["case:环罚〔2026〕40号"]
    assert report["filters"]["unit_registered"] is None
    literal = _report(bureau, unit=CAMERA_UNIT)
    assert _docks(literal) == {"3100001"} and literal["matched_records"]["cases"] == 0
    assert _docks(_report(bureau, unit=UNIT_CODE)) == {"3100002"}  # the USB report counts

    wrong = _report(bureau, unit="一大X")
    assert wrong["matched"] == 0 and wrong["unknown"] == ["unit"]
    assert set(wrong["known"]["unit"]) == {"一大队", CAMERA_UNIT, UNIT_CODE}
    assert wrong["known"]["officer_id"] == ["010203", "010299"]
    assert wrong["known"]["device_id"] == ["3100001", "3100002"]
    everything = _report(bureau)
    assert everything["matched"] > 0 and everything["unknown"] == []
    assert _report(bureau, officer_id="999999")["unknown"] == ["officer_id"]


def test_a_registered_unit_finds_its_officers_cases_and_the_cameras_that_reported_it(
    bureau: Vault, home: Path
) -> None:
    """README's example: with 一大队 registered and the camera's two ways of naming it as
    aliases, `--unit` by any of its names finds both cameras' dockings and clips and the
    case, and the rows name the unit as registered."""
    added = run_evault(home, "unit", "add", "一大队", "--alias", CAMERA_UNIT, "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["aliases"] == [CAMERA_UNIT]
    aliased = run_evault(home, "unit", "alias", CAMERA_UNIT, UNIT_CODE)
    assert aliased.returncode == 0, aliased.stderr
    assert aliased.stdout.strip() == f"{UNIT_CODE} now names unit 一大队"

    for name in ("一大队", CAMERA_UNIT, UNIT_CODE, " 一大队 "):
        report = _report(bureau, unit=name)
        assert report["filters"]["unit_registered"] == "一大队", name
        assert report["filters"]["unit_names"] == ["一大队", CAMERA_UNIT, UNIT_CODE]
        assert _docks(report) == {"3100001", "3100002"}, name
        assert _late_and_clock_devices(report) == {"3100001", "3100002"}, name
        assert report["matched_records"]["cases"] == 1
        assert "case:环罚〔2026〕40号" in {f["subject"] for f in report["findings"]}
    units_shown = {row["unit"] for row in report["summary"]["by_officer_device"]}
    assert "一大队" in units_shown and CAMERA_UNIT not in units_shown
    assert report["known"]["unit"] == ["一大队"]  # every string in the records is its name

    listed = json.loads(run_evault(home, "unit", "list", "--json").stdout)
    assert listed == [
        {
            "name": "一大队",
            "aliases": [CAMERA_UNIT, UNIT_CODE],
            "registered": True,
            "created_at": listed[0]["created_at"],
            "created_by": "王档案",
            "records": {"officers": 1, "cases": 1, "dockings": 1, "principals": 2},
        }
    ]
    with bureau.session() as session:
        events = session.exec(
            select(AuditEvent.action).where(AuditEvent.subject == "unit:一大队")
        ).all()
    assert events == ["unit.added", "unit.alias_added"]


def test_cli_report_over_an_unknown_unit_says_so_and_exits_1(bureau: Vault, home: Path) -> None:
    """No false all-clear: the table prints one line naming the known units, --json carries
    matched 0 and the known values, both exit 1; a unit with records exits 0."""
    table = run_evault(home, "report", "compliance", "--unit", "一大X")
    assert table.returncode == 1, table.stderr
    (line,) = [x for x in table.stdout.splitlines() if x.startswith("no records match")]
    assert line.startswith("no records match --unit 一大X: this report covers nothing; ")
    assert "--unit 一大X is in no record; known units: " in line
    assert CAMERA_UNIT in line and UNIT_CODE in line
    assert "0 findings" not in table.stdout  # never a clean result over nothing

    page = home.parent / "r.html"
    as_json = run_evault(
        home, "report", "compliance", "--unit", "一大X", "--json", "--html", str(page)
    )
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert data["matched"] == 0 and data["unknown"] == ["unit"]
    assert set(data["known"]["unit"]) == {"一大队", CAMERA_UNIT, UNIT_CODE}
    assert "no records match --unit 一大X" in as_json.stderr
    assert page.exists()  # the printable copy is written; it is to say 未找到符合筛选条件的记录

    known = run_evault(home, "report", "compliance", "--unit", CAMERA_UNIT)
    assert known.returncode == 0, known.stderr
    assert "no records match" not in known.stdout
    period = run_evault(home, "report", "compliance", "--unit", CAMERA_UNIT, "--from", "2027-01-01")
    assert period.returncode == 1
    assert "no records match --unit 环境监察支队一大队 --from 2027-01-01 00:00" in period.stdout
    assert "known units: " in period.stdout and "is in no record" not in period.stdout


def test_one_name_names_one_unit(vault: Vault) -> None:
    """A name or alias is refused when it already names a unit (either way round); names
    compare after NFKC and white space; an alias for an unregistered unit is NotFound."""
    units.add_unit(vault, "一大队", ["环境监察支队一大队", "一大队"], by="王档案")
    units.add_unit(vault, "二大队", by="王档案")
    with pytest.raises(Conflict, match="'一大队' is already registered"):
        units.add_unit(vault, " 一大队")
    with pytest.raises(Conflict, match="already an alias of unit '一大队'"):
        units.add_alias(vault, "二大队", "环境监察支队一大队")
    with pytest.raises(Conflict, match="'一大队' is already registered"):
        units.add_alias(vault, "二大队", "一大队")
    with pytest.raises(Conflict, match="already an alias of unit '一大队'"):
        units.add_unit(vault, "环境监察支队一大队")
    with pytest.raises(NotFound, match="no unit '三大队' is registered; registered: 一大队, 二大"):
        units.add_alias(vault, "三大队", "三中队")
    with pytest.raises(VaultError, match="at most 128"):
        units.add_unit(vault, "队" * 129)
    units.add_alias(vault, "二大队", "３３０１００")  # full-width digits: kept as NFKC
    with vault.session() as session:
        found = units.resolve(session, "330100")
        assert found is not None and found.name == "二大队"
        assert units.resolve(session, "三大队") is None
        assert len(session.exec(select(Unit)).all()) == 2
        assert len(session.exec(select(UnitAlias)).all()) == 2


def test_unit_commands_are_for_records_keepers_and_errors_are_one_line(
    vault: Vault, home: Path
) -> None:
    first = run_evault(home, "principal", "add", "王档案", "--role", "records_keeper")
    assert first.returncode == 0, first.stderr
    assert run_evault(home, "unit", "add", "一大队").returncode == 0
    again = run_evault(home, "unit", "add", "一大队")
    assert again.returncode == 1
    assert again.stderr.strip() == "error: unit '一大队' is already registered"
    missing = run_evault(home, "unit", "alias", "三大队", "x")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no unit '三大队' is registered; registered: 一大队"
    listed = run_evault(home, "unit", "list", "--csv")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].startswith("一大队,,yes,")
