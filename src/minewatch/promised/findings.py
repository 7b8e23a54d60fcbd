"""Findings: what is wrong with one cell of a filed table, in words an inspector can act on."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "ERROR", "WARNING", "format_finding"]

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    file: str
    sheet: str
    row: int | None          # sheet row (1-based), None for file-level findings
    field: str               # table column / header label, e.g. "修复后地类"
    value: str               # the offending cell text as filed ("" when missing)
    rule: str                # English code, e.g. "UNKNOWN_LAND_CLASS"
    severity: str            # "error" | "warning"
    message_zh: str

    def __post_init__(self) -> None:
        if self.severity not in (ERROR, WARNING):
            raise ValueError(f"severity must be 'error' or 'warning', not {self.severity!r}")


def format_finding(f: Finding) -> str:
    """One line, e.g. ``错误 plan.xlsx [Sheet1] 第12行 修复后地类="草坪": 地类不在三调地类表中 (UNKNOWN_LAND_CLASS)``."""
    sev = "错误" if f.severity == ERROR else "警告"
    where = f.file or "?"
    if f.sheet:
        where += f" [{f.sheet}]"
    if f.row is not None:
        where += f" 第{f.row}行"
    value = " ".join(str(f.value).split())
    if len(value) > 60:
        value = value[:57] + "..."
    field = f" {f.field}=\"{value}\"" if f.field else ""
    return f"{sev} {where}{field}: {f.message_zh} ({f.rule})"

