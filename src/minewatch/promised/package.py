"""The .xlsx package guard: what makes a plan file refused before or while it is parsed.

A hostile or broken file must stay bounded in time and memory: zip bombs, XML entity
declarations (billion laughs) and sheets with millions of cells are refused with
:class:`PlanFormatError` before any XML parser sees them. A real annual plan is a few
hundred kB unpacked and a few thousand cells.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

__all__ = [
    "PlanFormatError", "check_package", "not_an_xlsx",
    "MAX_FILE_BYTES", "MAX_UNPACKED_BYTES", "MAX_MEMBERS", "MAX_CELLS", "MAX_MERGED_CELLS",
]

MAX_FILE_BYTES = 20 * 1024 * 1024          # the .xlsx itself
MAX_UNPACKED_BYTES = 40 * 1024 * 1024      # sum of the declared sizes of all zip members
MAX_MEMBERS = 2000
MAX_CELLS = 100_000                        # cells present in one worksheet
MAX_MERGED_CELLS = 1_000_000               # cells covered by merges (clipped to the data)

_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s>/]")


class PlanFormatError(ValueError):
    """The file is not an annual-plan table at all (not .xlsx, or no section captions),
    or it is unsafe to read (zip bomb, XML entity declarations, too many cells)."""


def not_an_xlsx(file: str, e: Exception) -> PlanFormatError:
    """The error for a file that does not open as .xlsx at all."""
    return PlanFormatError(
        f"{file}: 不是有效的xlsx文件(如为.xls请另存为.xlsx) / not a readable .xlsx file: "
        f"{type(e).__name__}: {e}")


def check_package(path: Path, file: str) -> None:
    """Refuse zip bombs and XML with DTDs before any XML parser sees the file.

    ``file`` is the name used in the messages (the file's name, not its full path).
    """
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PlanFormatError(f"{file}: 文件过大({size}字节) / file too large ({size} bytes, "
                              f"limit {MAX_FILE_BYTES})")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise not_an_xlsx(file, e) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise PlanFormatError(f"{file}: xlsx压缩包内文件过多 / too many zip members ({len(infos)})")
        total = sum(i.file_size for i in infos)
        if total > MAX_UNPACKED_BYTES:
            raise PlanFormatError(
                f"{file}: 解压后过大({total}字节), 疑似压缩炸弹 / unpacks to {total} bytes "
                f"(limit {MAX_UNPACKED_BYTES}): refused as a possible zip bomb")
        for info in infos:
            if info.filename.lower().endswith((".xml", ".rels", ".vml")):
                _check_member(zf, info, file)


def _check_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, file: str) -> None:
    """Stream one XML member: no DTD or entity declaration, a worksheet within MAX_CELLS."""
    try:
        sheet = info.filename.lower().startswith("xl/worksheets/")
        with zf.open(info) as fh:
            tail = b""  # a declaration split across two chunks is still seen
            n_cells = 0
            while chunk := fh.read(1 << 16):
                if _DTD.search(tail + chunk):
                    raise PlanFormatError(
                        f"{file}: {info.filename} 含有XML实体/DTD声明, 拒绝读取 / contains "
                        f"an XML DTD or entity declaration (refused: entity expansion)")
                if sheet:
                    n_cells += len(_CELL_TAG.findall(chunk))
                    if n_cells > MAX_CELLS:
                        raise PlanFormatError(
                            f"{file}: 工作表单元格过多(超过{MAX_CELLS}个), 不像年度计划表 / "
                            f"{info.filename} has more than {MAX_CELLS} cells")
                tail = chunk[-16:]
    except PlanFormatError:
        raise
    except Exception as e:  # bad CRC, unsupported compression, truncated member
        raise PlanFormatError(f"{file}: xlsx压缩包损坏 / damaged .xlsx member "
                              f"{info.filename}: {type(e).__name__}: {e}") from None
