"""The Chinese labels users read, in one table: English code -> 中文.

Kept free of every other minewatch module (and of shapely, numpy), so the flow's run
artifact, the outputs and the rules all take their wording from here.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHANGE_ZH", "CONFIDENCE_LEVELS", "CONFIDENCE_ZH", "EVIDENCE_ZH", "FIELDS", "LEDGER_MATCH_ZH",
           "ONEMAP_TABLES_ZH", "RULES_ZH", "SECTION_ZH", "SEVERITY_ZH", "TYPES_ZH", "UNIT_EVENT_ZH", "UNIT_STATE_ZH",
           "UNIT_STATUS_ZH", "UNJUDGED_ZH", "VALUES_ZH", "YES_NO_ZH", "FieldLabel"]

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
    "PLAN_NOT_EXECUTED": "计划未执行",
    "RESTORED_LAND_REDISTURBED": "已修复土地再次扰动",
    "RESTORATION_OVERDUE_AT_EXPIRY": "到期未完成修复",
}
SEVERITY_ZH = {"high": "高", "medium": "中", "low": "低"}
# Confidence classes as Global Forest Watch alerts (docs/domain.md §6); see assess/confidence.py
CONFIDENCE_LEVELS = ("low", "high", "highest")
CONFIDENCE_ZH = {"low": "低", "high": "高", "highest": "最高"}
# Why a mine's evidence is short tonight (unjudged.csv rows for the whole mine, unit "")
EVIDENCE_ZH = {
    "SCENES_SKIPPED": "部分影像文件无法读取，已跳过",
    "EVIDENCE_INCOMPLETE": "影像目录返回的景数少于其匹配数，证据不完整",
}
# Why a unit was not judged (unjudged.csv `reason`); never flags
UNJUDGED_ZH = {
    "INSUFFICIENT_OBSERVATIONS": "有效观测不足",
    "SNOW_COVER": "积雪或结冰覆盖，无法判定植被/水面",
    "SEASON_NOT_OVER": "评估季尚未结束",
    "NO_THRESHOLD": "无适用阈值",
    "NO_VEGETATION_TARGET": "目标地类无植被/水面要求",
    "LOW_CONFIDENCE": "置信度不足，暂不上报",
}
# the one-map package's changes table: a feature since the previous night (outputs.onemap_changes)
CHANGE_ZH = {"new": "新增", "updated": "更新", "resolved": "消除"}
# A plan unit the night judged and found nothing on (the one-map latest_status); flagged
# units take the anomaly type, unjudged ones the reason code
UNIT_STATUS_ZH = {"OK": "未见异常"}
# the plan table's sections (minewatch.promised.models) as the unit ledger shows them
SECTION_ZH = {"restored": "上年度已修复", "damage": "损毁情况", "planned": "本年度计划"}
# a ledger unit's lifecycle state (minewatch.ledger.events.STATES)
UNIT_STATE_ZH = {"damaged": "损毁", "planned": "计划修复", "restored": "已修复", "accepted": "已验收",
                 "in_management": "管护期内"}
# what a row of a unit's history is (minewatch.ledger.events.KINDS)
UNIT_EVENT_ZH = {"mention": "计划记录", "acceptance": "验收记录", "season": "生长季观测"}
# how the ledger tied a plan row to its unit (minewatch.ledger.matching.METHODS)
LEDGER_MATCH_ZH = {
    "iou": "按位置匹配往年单元",
    "new": "新单元",
    "split": "疑似拆分（新编号，待人工确认）",
    "merge": "疑似合并（新编号，待人工确认）",
    "below_threshold": "部分重叠低于阈值（新编号，待人工确认）",
}


@dataclass(frozen=True)
class FieldLabel:
    """How an observed/expected field is shown to people: label, unit, what it means."""
    zh: str
    unit: str = ""        # "" for plain numbers and text
    rule: str = ""        # one plain-language sentence: what the value is, or how it is used


# Observed / expected keys of the anomalies (assess/) -> label, unit, meaning. One table for the
# report, the spot-check sheet's 字段说明 and the data dictionary.
FIELDS: dict[str, FieldLabel] = {
    # vegetation and soil measures
    "fvc": FieldLabel("植被覆盖度", "", "评估季内各晴空日期单元均值的中位数, 0 为裸地, 1 为全覆盖"),
    "fvc_mean": FieldLabel("植被覆盖度均值", "", "单元内晴空像元植被覆盖度的平均值"),
    "fvc_min": FieldLabel("植被覆盖度下限", "", "该地类修复后应达到的最低植被覆盖度"),
    "ndvi": FieldLabel("归一化植被指数", "", "评估季内晴空日期 NDVI 的中位数"),
    "bsi": FieldLabel("裸土指数", "", "评估季内晴空日期裸土指数的中位数, 越高越裸露"),
    "water_fraction": FieldLabel("水体比例", "", "单元内判为水体的像元比例"),
    "statistic": FieldLabel("统计方法", "", "观测值由哪些日期、如何汇总得到"),
    "clear_observations": FieldLabel("晴空观测数", "次", "无云、无云影的有效影像日期数"),
    "n_clear": FieldLabel("晴空观测数", "次", "无云、无云影的有效影像日期数"),
    "window": FieldLabel("判定时间窗", "", "观测值所用的起止日期: 评估季, 晴空日期不足时向前后各扩展 (持续多云)"),
    "snow_dates": FieldLabel("积雪/结冰日期数", "次", "时间窗内因积雪或结冰未计入的影像日期数 (已剔除, 不作裸地)"),
    "clear_dates_current": FieldLabel("本季晴空日期数", "次", "本评估季有效影像日期数"),
    "previous_clear_observations": FieldLabel("上季晴空观测数", "次", "上一评估季有效影像日期数"),
    "agreeing_dates": FieldLabel("一致日期比例", "", "各晴空日期中同样低于要求的比例, 越高越可信"),
    "pixels": FieldLabel("像元数", "个", "10 m 像元个数 (每个 0.01 hm²)"),
    # the reference ring (周边自然植被)
    "reference_fvc": FieldLabel("周边参照植被覆盖度", "", "矿区外围自然植被环本评估季的植被覆盖度"),
    "reference_fvc_baseline": FieldLabel("周边参照基期覆盖度", "", "参照环在基期评估季的植被覆盖度"),
    "relative_to_reference": FieldLabel("相对周边比值", "", "单元植被覆盖度 ÷ 周边参照植被覆盖度"),
    "reference_factor": FieldLabel("年景修正系数", "", "参照环本季 ÷ 基期覆盖度 (不超过 1): 干旱年份相应放宽要求"),
    "reference_gain_remaining": FieldLabel("参照环剩余增长倍数", "", "参照环上一年从今日到季末的覆盖度增长倍数"),
    "relative_min": FieldLabel("相对周边比值下限", "", "要求值 ÷ 参照环覆盖度"),
    "relative_previous": FieldLabel("上季相对周边比值", "", "上一评估季单元覆盖度 ÷ 参照环覆盖度"),
    "relative_now": FieldLabel("本季相对周边比值", "", "本评估季单元覆盖度 ÷ 参照环覆盖度"),
    "relative_drop": FieldLabel("相对周边比值下降", "", "上季比值 − 本季比值"),
    # requirements
    "measure": FieldLabel("考核指标", "", "按地类考核的指标"),
    "min": FieldLabel("要求下限", "", "该地类修复后应达到的最低值 (来自阈值表)"),
    "min_adjusted": FieldLabel("修正后要求下限", "", "要求下限 × 年景修正系数; 低于此值判为不达标"),
    "land_class": FieldLabel("目标地类", "", "第三次全国国土调查地类代码"),
    "region": FieldLabel("适用区域", "", "阈值所适用的行政区划"),
    "source": FieldLabel("依据", "", "阈值或判定方法的出处"),
    "provisional": FieldLabel("暂定阈值", "", "是: 阈值尚未经省级主管部门确认"),
    "rule": FieldLabel("判定规则", "", "发现该异常所用的规则"),
    "bare_fvc_max": FieldLabel("裸地覆盖度上限", "", "临时用地覆盖度低于此值视为仍为裸地"),
    "fvc_previous_season": FieldLabel("上季植被覆盖度", "", "上一评估季的植被覆盖度"),
    "fvc_drop": FieldLabel("覆盖度下降", "", "上季覆盖度 − 本季覆盖度"),
    "degradation_fvc_drop": FieldLabel("退化下降阈值", "", "覆盖度下降达到此值视为退化"),
    "degradation_rel_drop": FieldLabel("相对退化阈值", "", "相对周边比值下降达到此值视为退化"),
    "previous_period": FieldLabel("上一评估季", "", "对比的上一评估季起止日期"),
    "season": FieldLabel("评估季", "", "本年度评估季起止日期"),
    "days_left": FieldLabel("季末剩余天数", "天", "距评估季结束的天数"),
    "slope_fvc_per_day": FieldLabel("近期增长速率", "每天", "近期植被覆盖度的日增长 (线性拟合)"),
    "projected_best_fvc": FieldLabel("季末最乐观预测", "", "按物候与近期趋势, 季末可能达到的最高覆盖度"),
    # disturbance
    "ndvi_baseline": FieldLabel("基期NDVI", "", "基期同一季节的 NDVI 中位数"),
    "ndvi_current": FieldLabel("当前NDVI", "", "本评估季的 NDVI 中位数"),
    "ndvi_drop": FieldLabel("NDVI下降", "", "基期 NDVI − 当前 NDVI"),
    "ndvi_drop_min": FieldLabel("NDVI下降阈值", "", "NDVI 下降达到此值才视为损毁"),
    "bare_ndvi_max": FieldLabel("裸露NDVI上限", "", "NDVI 低于此值视为裸露地表"),
    "min_clear_obs": FieldLabel("最少晴空观测", "次", "判定所需的最少有效影像日期数"),
    "min_area_hm2": FieldLabel("最小上图面积", "hm²", "小于此面积的变化不作为异常"),
    "baseline_period": FieldLabel("基期", "", "作为对比的基期评估季起止日期"),
    "measured_bare_hm2": FieldLabel("实测裸露面积", "hm²", "与申报损毁单元相连的裸露地表面积"),
    "excess_hm2": FieldLabel("超出面积", "hm²", "实测裸露面积 − 申报损毁面积"),
    "declared_hm2": FieldLabel("申报损毁面积", "hm²", "年度计划中申报的损毁面积"),
    "allowed_excess_hm2": FieldLabel("允许超出面积", "hm²", "在申报面积之外可容忍的面积"),
    "damage_tolerance": FieldLabel("损毁面积容差", "", "允许超出申报面积的比例"),
    "area_hm2": FieldLabel("面积", "hm²", "图斑面积 (CGCS2000 椭球面积)"),
    # plan checks
    "file": FieldLabel("计划文件", "", "报送的年度计划文件名"),
    "sheet": FieldLabel("工作表", "", "文件中的工作表"),
    "row": FieldLabel("行号", "", "工作表中的行号"),
    "field": FieldLabel("字段", "", "有问题的字段"),
    "value": FieldLabel("填报值", "", "计划中填写的值"),
    "severity": FieldLabel("问题等级", "", "检查发现问题的严重程度"),
    "message_zh": FieldLabel("问题说明", "", "检查发现的问题"),
    "plan_found": FieldLabel("已收到计划", "", "是否收到本年度计划"),
    "days_overdue": FieldLabel("逾期天数", "天", "超过报送期限的天数"),
    "due": FieldLabel("报送期限", "", "年度计划应报送的日期"),
    # the rules that need history (the unit ledger)
    "unit_id": FieldLabel("单元标识码", "", "台账为修复单元编定的标识码, 跨年度不变"),
    "acceptance_year": FieldLabel("验收年度", "", "单元完成验收的年度 (验收清单, 否则年度计划申报)"),
    "acceptance_source": FieldLabel("验收依据", "", "验收年度取自验收清单还是年度计划的申报"),
    "management_years": FieldLabel("管护期", "年", "验收后仍须保持修复成效的年数"),
    "previous_source": FieldLabel("对比基准来源", "", "验收时覆盖度取自台账存储的季度观测还是本次影像窗口"),
    "planned_year": FieldLabel("计划年度", "", "该单元被列入修复计划的年度"),
    "promised_area_hm2": FieldLabel("计划修复面积", "hm²", "上年度计划中该单元的修复面积"),
    "meets_target": FieldLabel("影像达到目标", "", "本评估季植被覆盖度是否已达到目标地类要求"),
    "outstanding_hm2": FieldLabel("未完成修复面积", "hm²", "台账中最近一次仍为损毁或计划状态的单元面积之和"),
    "outstanding_units": FieldLabel("未完成修复单元数", "个", "台账中尚未申报修复的单元个数"),
    "unit_ids": FieldLabel("单元标识码列表", "", "未完成修复单元的标识码"),
    "valid_to": FieldLabel("有效期截止", "", "采矿权有效期的截止日期"),
    "as_of": FieldLabel("核查日期", "", "本次核查的日期"),
}

# Code values that appear inside observed/expected -> Chinese (the code stays as secondary text)
VALUES_ZH: dict[str, str] = {
    "fvc": "植被覆盖度", "water": "水体比例", "bare": "裸地", "none": "无要求",
    "median of clear-date unit means": "晴空日期单元均值的中位数",
    "high": "高", "medium": "中", "low": "低", "error": "错误", "warning": "警告",
    "default": "默认 (未分区)",   # the thresholds' region when the table has no regional row
    # the disturbance rules' `source` (assess/disturbance_rules.py)
    "same-season baseline; minimum mapping unit as GFW alerts (0.2 ha)":
        "与基期同一评估季对比; 最小上图面积同 GFW 森林扰动预警 (0.2 公顷)",
}

# The rule behind each anomaly type in one plain sentence (the `rule` text of expected is the
# machine's wording and is kept as secondary text).
RULES_ZH: dict[str, str] = {
    "RESTORATION_SHORTFALL": "本年度计划修复单元在评估季末的植被覆盖度低于该地类要求 (已按周边自然植被的年景修正)",
    "AT_RISK": "按周边自然植被的物候和本单元近期趋势, 评估季末最乐观也达不到要求",
    "CLAIMED_RESTORATION_NOT_OBSERVED": "上年度申报已修复的单元, 本评估季植被覆盖度仍低于该地类要求",
    "VEGETATION_DEGRADATION": "已验收的修复单元植被覆盖度较上一评估季 (本年度计划未列出的管护期内单元: "
                              "较验收时) 明显下降, 且降幅超过周边自然植被",
    "UNDECLARED_DISTURBANCE": "矿区范围内、申报单元以外, 植被较基期同季明显减少且持续裸露",
    "DAMAGE_EXCEEDS_DECLARED": "与申报损毁单元相连的裸露面积超出申报面积加允许容差",
    "OUT_OF_BOUNDARY_DISTURBANCE": "矿区范围以外紧邻处植被较基期同季明显减少且持续裸露",
    "TEMPORARY_LAND_NOT_RESTORED": "计划复垦的临时用地在评估季仍为裸地",
    "PLAN_MISSING": "年度计划超过报送期限仍未收到",
    "PLAN_DATA_INCONSISTENT": "年度计划的填报数据与登记信息或自身不一致",
    "PLAN_UNREADABLE": "已报送的年度计划文件无法读取（文件损坏或不是附表格式），需补报可读文件",
    "PLAN_NOT_EXECUTED": "上年度计划修复的单元, 本年度计划既未申报已修复也未继续列入计划 (实际情况与原计划不一致)",
    "RESTORED_LAND_REDISTURBED": "已修复并验收的单元内, 植被较基期同季明显减少且持续裸露 (疑似违法占用或再次开采)",
    "RESTORATION_OVERDUE_AT_EXPIRY": "采矿权有效期已届满, 台账中仍有损毁或计划修复的面积未申报修复",
}
YES_NO_ZH = {True: "是", False: "否"}
# the one-map package's tables as GIS users see them (gpkg_contents.description, the metadata record)
ONEMAP_TABLES_ZH = {
    "anomalies": "遥感监测异常图斑: 每条为一处年度修复计划与卫星影像不符的发现 (含新增/持续/消除状态)",
    "restoration_units": "修复单元: 年度矿区生态修复计划三张表的每一行 (已修复、现状损毁、计划修复), 含最新监测状态",
    "mines": "采矿权: 每个采矿许可证一条, 含年度计划报送状态与异常统计",
    "unit_history": "单元全流程记录: 台账中每个修复单元的计划记录、验收记录与生长季观测 (按单元标识码关联修复单元图层)",
    "data_dictionary": "数据字典: 各图层字段的中文名、类型、单位、来源标准与含义",
    "changes": "变化记录: 与上次运行相比新增、更新、消除的要素, 含图层、标识码与更新键",
    "layer_styles": "QGIS 默认样式: 各图层的中文别名、符号与标注",
}
