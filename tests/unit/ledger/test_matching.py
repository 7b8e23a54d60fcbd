"""Which earlier unit a plan row is: moved, split, merged, re-numbered, new, and across sections."""
from __future__ import annotations

from shapely.geometry import box
from tests.support.ledger_plans import A_MOVED, B_EAST, B_WEST, C_AND_E, A, B, C, D, E

from minewatch.ledger.matching import Known, iou, match_section
from minewatch.promised.models import DAMAGE, PLANNED, RESTORED

KW = dict(iou_min=0.5, related_min=0.25)


def known(uid: str, g, section: str = PLANNED, seq: int = 1) -> Known:
    return Known(uid, section, 2025, seq, g)


def test_moved_unit_keeps_its_id_with_its_iou():
    [d] = match_section([A_MOVED], RESTORED, [known("U1", A), known("U2", B)], **KW)
    assert (d.method, d.unit_id, d.previous.section, d.candidates) == ("iou", "U1", PLANNED, ())
    # 20 m of a 300 m wide unit: (300 - 20) / (300 + 20)
    assert round(d.iou, 4) == round(A.intersection(A_MOVED).area / A.union(A_MOVED).area, 4) == 0.8767


def test_renumbered_unit_is_matched_by_ground_not_by_seq():
    ds = match_section([C, A], PLANNED, [known("U1", A, seq=1), known("U3", C, seq=3)], **KW)
    assert [(d.method, d.unit_id, d.iou) for d in ds] == [("iou", "U3", 1.0), ("iou", "U1", 1.0)]
    assert ds[0].previous.seq == 3


def test_split_unit_gives_new_ids_and_names_its_parent():
    ds = match_section([B_WEST, B_EAST], PLANNED, [known("U2", B)], **KW)
    assert [(d.method, d.unit_id, d.candidates, round(d.iou, 4)) for d in ds] == [
        ("split", None, ("U2",), 0.5), ("split", None, ("U2",), 0.5)]


def test_merged_units_give_one_new_id_and_name_both():
    [d] = match_section([C_AND_E], PLANNED, [known("U3", C), known("U5", E)], **KW)
    assert (d.method, d.unit_id, d.candidates, round(d.iou, 4)) == ("merge", None, ("U3", "U5"), 0.5)


def test_partial_overlap_below_threshold_is_not_guessed():
    shifted = box(A.bounds[0] + 0.6 * (A.bounds[2] - A.bounds[0]), A.bounds[1], A.bounds[2] + 0.6 * (
        A.bounds[2] - A.bounds[0]), A.bounds[3])
    [d] = match_section([shifted], PLANNED, [known("U1", A)], **KW)
    assert (d.method, d.unit_id, d.candidates, round(d.iou, 4)) == ("below_threshold", None, ("U1",), 0.25)
    assert round(iou(shifted, A), 4) == 0.25


def test_far_moved_unit_is_new():
    [d] = match_section([E], PLANNED, [known("U1", A)], **KW)
    assert (d.method, d.unit_id, d.iou, d.candidates) == ("new", None, None, ())


def test_planned_units_inside_a_damaged_area_are_new_not_a_split():
    west = box(D.bounds[0], D.bounds[1], D.bounds[0] + 0.002, D.bounds[3])
    east = box(D.bounds[2] - 0.002, D.bounds[1], D.bounds[2], D.bounds[3])
    ds = match_section([west, east], PLANNED, [known("U9", D, section=DAMAGE)], **KW)
    assert [(d.method, d.unit_id, d.candidates) for d in ds] == [("new", None, ("U9",)), ("new", None, ("U9",))]


def test_threshold_is_the_settings_knob():
    [d] = match_section([A_MOVED], RESTORED, [known("U1", A)], iou_min=0.9, related_min=0.25)
    assert (d.method, d.unit_id) == ("below_threshold", None)
