"""Redaction plans as data (AC-9, issue 20): the reviewer's --box and --mute, merging changes,
a track's rectangle between and around its detections, enlarging and clipping to the frame,
a plan file read back, and faces followed between detection frames."""

from __future__ import annotations

import copy
import json

import pytest

from vault.media import redact_plan as rp
from vault.media.redact_plan import PlanError
from vault.media.redact_track import iou, track

SOURCE = {
    "sha256": "a" * 64,
    "kind": "original",
    "width": 640,
    "height": 360,
    "frame_rate": "25/1",
    "fps": 25.0,
    "duration_s": 10.0,
    "has_audio": True,
}


def plan() -> rp.Plan:
    return rp.new_plan(7, SOURCE)


def test_times_are_seconds_or_minutes_and_seconds() -> None:
    assert rp.parse_time("12.5") == 12.5
    assert rp.parse_time("1:02.5") == 62.5
    assert rp.parse_time("1:00:03") == 3603
    for bad in ("", "x", "-1", "1:2:3:4", "1.2.3"):
        with pytest.raises(PlanError):
            rp.parse_time(bad)


def test_a_range_ends_after_it_starts() -> None:
    assert rp.parse_range("3-7.5") == (3.0, 7.5)
    assert rp.parse_range("0:58-1:02") == (58.0, 62.0)
    for bad in ("3", "7-3", "3-3", "a-b"):
        with pytest.raises(PlanError):
            rp.parse_range(bad)


def test_a_box_is_a_range_and_a_region_in_whole_pixels() -> None:
    assert rp.parse_box("3-7.5:100,80,64,48") == (3.0, 7.5, (100.0, 80.0, 64.0, 48.0))
    assert rp.parse_box("0:58-1:02:1,2,3,4") == (58.0, 62.0, (1.0, 2.0, 3.0, 4.0))
    for bad in ("3-7", "3-7:1,2,3", "3-7:1,2,0,4", "3-7:1,2,3.5,4", "7-3:1,2,3,4"):
        with pytest.raises(PlanError):
            rp.parse_box(bad)


def test_boxes_and_mutes_get_ids_that_stay_when_others_are_dropped() -> None:
    p = plan()
    assert rp.add_box(p, 1, 2, (10, 10, 20, 20)) == "b1"
    assert rp.add_box(p, 1, 20, (10, 10, 20, 20)) == "b2"
    assert p["boxes"][1]["t1"] == 10.0  # clipped to the clip's end
    assert rp.add_mute(p, 4, 5) == "m1"
    rp.drop(p, "b1")
    assert rp.add_box(p, 1, 2, (0, 0, 5, 5)) == "b3"  # b1 is never given again
    rp.drop(p, "m1")
    assert p["mute"] == []
    with pytest.raises(PlanError, match=r"no box or mute range 'f9'.*b2, b3"):
        rp.drop(p, "f9")
    with pytest.raises(PlanError, match="after the clip's end"):
        rp.add_mute(p, 11, 12)
    with pytest.raises(PlanError, match="outside the 640×360 frame"):
        rp.add_box(p, 1, 2, (700, 10, 5, 5))


def test_new_faces_replace_the_detected_ones_and_keep_the_reviewers_boxes() -> None:
    p = plan()
    rp.add_box(p, 1, 2, (10, 10, 20, 20))
    detector = {"hold_s": 0.3}
    rp.set_faces(p, [[[1.0, 0, 0, 10, 10], [2.0, 10, 0, 10, 10]]], detector)
    assert [b["id"] for b in p["boxes"]] == ["b1", "f1"]
    face = p["boxes"][1]
    assert (face["t0"], face["t1"]) == (0.7, 2.3)  # held before the first, after the last key
    rp.set_faces(p, [[[9.9, 0, 0, 10, 10]], [[0.1, 5, 5, 10, 10]]], detector)
    assert [b["id"] for b in p["boxes"]] == ["b1", "f1", "f2"]
    assert p["boxes"][1]["t1"] == 10.0 and p["boxes"][2]["t0"] == 0.0  # inside the clip


def test_a_track_is_interpolated_between_keys_and_carried_on_in_its_hold() -> None:
    box = {"t0": 0.5, "t1": 3.5, "keys": [[1.0, 0, 0, 10, 10], [2.0, 10, 20, 20, 10]]}
    assert rp.rect_at(box, 1.5) == (5.0, 10.0, 15.0, 10.0)
    assert rp.rect_at(box, 1.0) == (0, 0, 10, 10)
    # Before the first key: on at its speed, never smaller than the key itself.
    assert rp.rect_at(box, 0.5) == (-5.0, -10.0, 10.0, 10.0)
    assert rp.rect_at(box, 3.0) == (20.0, 40.0, 30.0, 10.0)
    assert rp.rect_at(box, 0.4) is None and rp.rect_at(box, 3.6) is None
    still = {"t0": 1, "t1": 2, "keys": [[1, 3, 4, 5, 6]]}
    assert rp.rect_at(still, 1.7) == (3, 4, 5, 6)


def test_boxes_are_enlarged_about_their_centre_and_clipped_to_the_frame() -> None:
    assert rp.enlarge((10, 10, 10, 20), 1.5) == (7.5, 5.0, 15.0, 30.0)
    assert rp.clip((-5.5, 2.2, 10, 10), 100, 100) == (0, 2, 5, 13)  # rounded outwards
    assert rp.clip((95, 95, 10, 10), 100, 100) == (95, 95, 100, 100)
    assert rp.clip((120, 5, 10, 10), 100, 100) is None


def test_a_detected_face_is_hidden_at_least_1_2_times_its_box_a_drawn_box_as_drawn() -> None:
    p = plan()
    rp.add_box(p, 0, 5, (100, 100, 50, 50))
    rp.set_faces(p, [[[1.0, 300, 100, 100, 100]]], {"hold_s": 0.2})
    p["face_scale"] = 1.0  # a plan file cannot go below 1.2 (validate); nor does rendering
    assert rp.regions_at(p, 1.0) == [(100, 100, 150, 150), (290, 90, 410, 210)]
    p["face_scale"] = 1.5
    assert rp.regions_at(p, 1.0)[1] == (275, 75, 425, 225)
    assert rp.regions_at(p, 6.0) == []


def test_mute_ranges_become_one_volume_expression() -> None:
    p = plan()
    assert rp.mute_expression(p) is None
    rp.add_mute(p, 5, 6.25)
    rp.add_mute(p, 1, 2)
    assert rp.mute_expression(p) == "between(t,1.000,2.000)+between(t,5.000,6.250)"


def test_a_plan_file_round_trips_and_must_be_for_the_same_source() -> None:
    p = plan()
    rp.add_box(p, 1, 2, (10, 10, 20, 20))
    rp.add_mute(p, 3, 4)
    p["version"] = 4
    given = json.loads(json.dumps(p))
    given["style"] = "fill"
    read = rp.validate(given, plan())
    assert read["boxes"] == p["boxes"] and read["mute"] == p["mute"]
    assert read["style"] == "fill" and read["version"] == 0  # the version is the vault's
    assert rp.same_content(rp.validate(json.loads(json.dumps(p)), plan()), p)
    assert not rp.same_content(read, p)
    other = copy.deepcopy(given) | {"source_sha256": "b" * 64}
    with pytest.raises(PlanError, match="another source"):
        rp.validate(other, plan())
    for broken, why in (
        ({"format": "x"}, "not a redaction plan"),
        ({"face_scale": 1.1}, "face_scale"),
        ({"style": "emoji"}, "style"),
        ({"boxes": [{"id": "b1", "source": "reviewer", "t0": 2, "t1": 1, "keys": []}]}, "t0"),
        ({"boxes": [{"id": "x1", "source": "reviewer", "t0": 0, "t1": 1, "keys": []}]}, "id"),
        ({"mute": [{"id": "m1", "t0": 0, "t1": 1}, {"id": "m1", "t0": 2, "t1": 3}]}, "twice"),
        (
            {"boxes": [{"id": "f1", "source": "faces", "t0": 0, "t1": 1, "keys": [[1, 2]]}]},
            "a key is",
        ),
    ):
        with pytest.raises(PlanError, match=why):
            rp.validate(given | broken, plan())


def test_the_plans_digest_follows_its_content() -> None:
    p = plan()
    before = rp.digest(p)
    rp.add_mute(p, 1, 2)
    assert rp.digest(p) != before and len(before) == 64


def test_faces_are_followed_between_detections_and_across_a_missed_one() -> None:
    detections = [
        (0.0, [(0, 0, 40, 40, 0.9), (400, 0, 40, 40, 0.8)]),
        (0.2, [(12, 2, 40, 40, 0.9), (388, 0, 40, 40, 0.8)]),
        (0.4, [(376, 0, 40, 40, 0.8)]),  # the first face missed once
        (0.6, [(36, 6, 40, 40, 0.9), (364, 0, 40, 40, 0.8)]),
    ]
    found = track(detections)
    assert [[k[0] for k in keys] for keys in found] == [[0.0, 0.2, 0.6], [0.0, 0.2, 0.4, 0.6]]
    assert found[0][-1][1:] == [36, 6, 40, 40]


def test_a_fast_face_is_matched_by_its_centre_and_a_lost_one_ends_its_track() -> None:
    fast = [(0.0, [(0, 0, 40, 40, 0.9)]), (0.2, [(28, 0, 40, 40, 0.9)])]
    assert iou((0, 0, 40, 40), (28, 0, 40, 40)) < 0.2
    assert len(track(fast)) == 1
    far = [(0.0, [(0, 0, 40, 40, 0.9)]), (0.2, [(300, 200, 40, 40, 0.9)])]
    assert len(track(far)) == 2
    gone = [(0.0, [(0, 0, 40, 40, 0.9)])] + [(t / 10, []) for t in (2, 4, 6)]
    gone.append((0.8, [(0, 0, 40, 40, 0.9)]))
    assert len(track(gone, max_gap=2)) == 2  # missed three times: a new track
