"""Text a spreadsheet would run: every CSV and .xlsx minewatch writes passes its cells here.

Holder names, mine names and licence numbers come from plans and the registry, i.e. from
the companies being supervised. Text starting with ``=``, ``+``, ``-``, ``@``, tab or CR
is a formula (or DDE command) to Excel, WPS and LibreOffice when the bureau opens the
file; OWASP's CSV-injection rule is to prefix such text with ``'`` so it is shown, never
run. Numbers are not text: a negative number, or text that is just a number such as
``-3.5``, is left as it is (a spreadsheet reads it as that number, nothing more).
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["FORMULA_START", "spreadsheet_safe", "spreadsheet_safe_frame"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula;
    numbers, booleans, None and harmless text unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def spreadsheet_safe_frame(df: Any) -> Any:
    """A copy of the pandas DataFrame with every text column's cells :func:`spreadsheet_safe`
    (numeric columns are numbers and stay as they are)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(spreadsheet_safe)
    return out
