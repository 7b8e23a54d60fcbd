"""Labelled scenarios for the ground itself (issue #14 items 6-8): sparse desert steppe,
double-cropped fields, and units restored in part. Appended to `synth.scenarios.SCENARIOS`
(import them from there: this module builds on its dataclasses).

- arid north-west (新疆 昌吉, 652301): natural cover ~0.04 (NDVI ~0.16, FVC ~0.15 as measured),
  under any vegetation floor and under the region's grassland minimum. A restored grass unit
  that matches its sparse ring and a pit declared exactly are negatives; a unit left as bare
  waste rock (NDVI ~0.07) is the positive;
- double-cropped plain (山东 济宁, 370811): the ring is wheat-maize fields, bare after the
  June harvest and, in the plan year, through July (late maize). A cropland (0103) unit
  restored to fields is a negative, one left bare through the crop's peak the positive; the
  harvest is no disturbance, inside the boundary or out;
- partly restored units: the mean passes, but a contiguous corner (36%) of one unit and a
  strip (33%) of a temporary-land unit are bare (positives, PARTIAL_RESTORATION); a unit with
  scattered single bare pixels (11%, each under the minimum mapping unit) is a negative.
"""
from __future__ import annotations

from minewatch.promised.models import DAMAGE, PLANNED, RESTORED
from minewatch.synth import scenes as s2
from minewatch.synth.scenarios import A1, A2, A3, A4, Patch, Scenario, UnitSpec

__all__ = ["GROUND"]

# single bare 10 m pixels every 30 m over A2: never two 8-connected
SCATTER = tuple(Patch(f"s{i}", (x, y, x + 10, y + 10), "bare")
                for i, (x, y) in enumerate((x, y) for x in range(A2[0] + 10, A2[2], 30)
                                           for y in range(A2[1] + 10, A2[3], 30)))

GROUND: tuple[Scenario, ...] = (
    Scenario("arid_sparse", "desert steppe (NDVI ~0.16): a grass unit matching its ring, a pit declared "
                            "exactly, a unit left as bare waste rock",
             (Patch("g1", A1, "natural"), Patch("g2", A2, "bare", s2.ROCK), Patch("r1", A3, "natural"),
              Patch("d1", A4, "bare", s2.ROCK)),
             (UnitSpec(PLANNED, 1, A1, "0404"), UnitSpec(PLANNED, 2, A2, "0404"),
              UnitSpec(RESTORED, 1, A3, "0404", accepted=True), UnitSpec(DAMAGE, 1, A4, problem_type="挖损")),
             (("planned:2", "RESTORATION_SHORTFALL"),), county_code="652301", natural="sparse"),
    Scenario("double_crop", "wheat-maize fields all round, bare after harvest and through a late July: "
                            "a cropland unit restored to fields, one left bare",
             (Patch("c1", A1, "natural"), Patch("c2", A2, "bare")),
             (UnitSpec(PLANNED, 1, A1, "0103"), UnitSpec(PLANNED, 2, A2, "0103")),
             (("planned:2", "RESTORATION_SHORTFALL"),), county_code="370811", natural="double_crop"),
    Scenario("parts", "units whose mean passes: a bare corner, a bare strip of temporary land, "
                      "scattered bare pixels",
             (Patch("p1", A1, "recover"), Patch("p1_corner", (A1[0], A1[1], A1[0] + 90, A1[1] + 90), "bare"),
              Patch("p2", A2, "recover"), *SCATTER,
              Patch("t1", A3, "recover"), Patch("t1_strip", (A3[0], A3[1], A3[2], A3[1] + 50), "bare"),
              Patch("r1", A4, "restored_ok")),
             (UnitSpec(PLANNED, 1, A1, "0404"), UnitSpec(PLANNED, 2, A2, "0404"),
              UnitSpec(PLANNED, 3, A3, "0404", is_temporary=True), UnitSpec(RESTORED, 1, A4, "0404", accepted=True)),
             (("planned:1", "PARTIAL_RESTORATION"), ("planned:3", "PARTIAL_RESTORATION"))),
)
