"""Issue 17: the printed register (查阅登记簿) is a paper to sign and file: its 查阅内容 in
Chinese only, and 查阅人 filled on every row, refusals included."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.access_office import CASE, Office, open_office
from vault.access import export, grants, wording
from vault.access.printable import COLUMNS, write_csv
from vault.access.requests import file_request
from vault.context import Vault
from vault.db.models import RegisterEntry
from vault.errors import VaultError
from vault.service import api, ops

STRANGER = api.Caller(4242, "stranger", system=False)


@pytest.fixture
def office(vault: Vault, camera: Path, tmp_path: Path) -> Office:
    ops.known_operations()
    return open_office(vault, camera, tmp_path / "papers")


def test_the_printed_register_is_chinese_and_names_who_asked_on_every_row(
    office: Office, tmp_path: Path
) -> None:
    court = office.outsider("某区人民法院", "court", "某区人民法院")
    documents = office.documents("unit_letter", "applicant_id")
    request = file_request(
        office.keeper, f"case:{CASE}", "export", "行政诉讼举证", court, documents
    )
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意")
    assert grant.id is not None
    export.export(office.keeper, f"case:{CASE}", tmp_path / "pkg", grant_id=grant.id)
    grants.revoke(office.boss, grant.id, "案件已结")
    # Refusals: an OS user mapped to no principal, and an officer outside the case.
    api.run(office.vault, STRANGER, "evidence.view", {"evidence_id": office.evidence[0]})
    with pytest.raises(VaultError):
        export.view(office.other, office.evidence[0], tmp_path / "v")
    with office.vault.session() as session:
        rows = list(session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq))))
    assert {"request", "approve", "export", "revoke", "refused", "principal"} <= {
        r.event for r in rows
    }
    out = tmp_path / "register.csv"
    write_csv(rows, "Asia/Shanghai", out)
    with out.open(encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == list(COLUMNS) and len(table) == len(rows)
    for line in table:
        assert wording.is_chinese_only(line["查阅内容"]), line["查阅内容"]
        assert line["查阅人"], line
    refused = [line for line in table if line["查阅内容"].startswith("拒绝")]
    assert len(refused) == 2
    assert any("stranger" in line["查阅人"] for line in refused)  # the OS user, as the kernel said
    assert any("操作系统用户未登记为人员" in line["查阅内容"] for line in refused)
    assert any("案件" in line["查阅内容"] for line in table if line["查阅内容"].startswith("导出"))


def test_every_operation_has_words_for_the_paper_register() -> None:
    from vault.service.policy import TABLE

    missing = [rule.action for rule in TABLE if rule.action not in wording.OPERATIONS]
    assert missing == [], "add them to vault/access/wording.py OPERATIONS"
    assert all(wording.is_chinese_only(words) for words in wording.OPERATIONS.values())
