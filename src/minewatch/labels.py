"""The Chinese labels users read, in one table: English code -> 中文.

Kept free of every other minewatch module (and of shapely, numpy), so the flow's run
artifact, the outputs and the rules all take their wording from here.
"""
from __future__ import annotations

__all__ = ["CONFIDENCE_LEVELS", "CONFIDENCE_ZH", "EVIDENCE_ZH", "LEDGER_MATCH_ZH", "SECTION_ZH", "SEVERITY_ZH",
           "TYPES_ZH", "UNIT_STATUS_ZH"]

# English code -> Chinese label (the regulation's wording where it has one)
TYPES_ZH = {
    "RESTORATION_SHORTFALL": "修复不达标",
    "AT_RISK": "进度滞后",
    "CLAIMED_RESTORATION_NOT_OBSERVED": "申报已修复但影像未见恢复",
    "VEGETATION_DEGRADATION": "修复后植被退化",
    "UNDECLARED_DISTURBANCE": "未申报损毁",
    "DAMAGE_EXCEEDS_DECLARED": "损毁面积超出申报",
    "OUT_OF_BOUNDARY_DISTURBANCE": "越界扰动",
    "TEMPORARY_LAND_NOT_RESTORED": "临时用地未复垦",
    "PLAN_MISSING": "未报送年度计划",
    "PLAN_DATA_INCONSISTENT": "年度计划数据不一致",
    "PLAN_UNREADABLE": "年度计划无法读取",
}
SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低"}
# Confidence classes as Global Forest Watch alerts (DOMAIN.md §6); see assess/confidence.py
CONFIDENCE_LEVELS = ("low", "high", "highest")
CONFIDENCE_ZH = {"low": "低", "high": "高", "highest": "最高"}
# Why a mine's evidence is short tonight (unjudged.csv rows for the whole mine, unit "")
EVIDENCE_ZH = {
    "SCENES_SKIPPED": "部分影像文件无法读取，已跳过",
    "EVIDENCE_INCOMPLETE": "影像目录返回的景数少于其匹配数，证据不完整",
}
# A plan unit the night judged and found nothing on (the one-map latest_status); flagged
# units take the anomaly type, unjudged ones the reason code
UNIT_STATUS_ZH = {"OK": "未见异常"}
# the plan table's sections (minewatch.promised.models) as the unit ledger shows them
SECTION_ZH = {"restored": "上年度已修复", "damage": "损毁情况", "planned": "本年度计划"}
# how the ledger tied a plan row to its unit (minewatch.ledger.matching.METHODS)
LEDGER_MATCH_ZH = {
    "iou": "按位置匹配往年单元",
    "new": "新单元",
    "split": "疑似拆分（新编号，待人工确认）",
    "merge": "疑似合并（新编号，待人工确认）",
    "below_threshold": "部分重叠低于阈值（新编号，待人工确认）",
}
