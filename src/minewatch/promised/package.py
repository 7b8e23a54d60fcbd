"""The .xlsx package guard: what makes a plan file refused before or while it is parsed.

A hostile or broken file must stay bounded in time and memory. openpyxl builds the whole
workbook while loading (every cell of a merged, hyperlinked or commented range becomes an
object before any size check can run), so the guard reads what loading would cost from
the package itself, streaming, before openpyxl sees it: zip bombs (bytes actually
unpacked), XML entity declarations (billion laughs), element and cell counts, and every
cell address, dimension and range. It reads every member an XML parser would read,
whatever its name (a worksheet part may be called ``sheet1.bin``) or encoding (UTF-16).
A real annual plan is a few hundred kB unpacked and a few thousand cells.
"""
from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

__all__ = [
    "MAX_CELLS",
    "MAX_ELEMENTS",
    "MAX_FILE_BYTES",
    "MAX_MEMBERS",
    "MAX_MERGED_CELLS",
    "MAX_TAG_CHARS",
    "MAX_UNPACKED_BYTES",
    "SHEET_COLS",
    "SHEET_ROWS",
    "PlanFormatError",
    "check_package",
    "not_an_xlsx",
    "range_box",
    "xml_codec",
]

MAX_FILE_BYTES = 20 * 1024 * 1024          # the .xlsx itself
MAX_UNPACKED_BYTES = 40 * 1024 * 1024      # all zip members, declared and as actually unpacked
MAX_MEMBERS = 2000
MAX_CELLS = 100_000                        # cells openpyxl creates for one part (cells + ranges)
MAX_MERGED_CELLS = 1_000_000               # cells covered by merges (clipped to the data)
MAX_ELEMENTS = 500_000                     # XML elements in one part (each is an object or more)
MAX_TAG_CHARS = 1 << 20                    # one start tag; Excel's longest are a few kB
SHEET_ROWS, SHEET_COLS = 1_048_576, 16_384  # the grid of an .xlsx sheet (A1:XFD1048576)
CHUNK = 1 << 16

_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ELEMENT = re.compile(r"<[A-Za-z_]")
_CELL_TAG = re.compile(r"<(?:[\w.-]+:)?c[\s>/]")
_ROW_TAG = re.compile(r"<(?:[\w.-]+:)?row[\s>/]")
# a start tag's whole attributes (a '>' may stand in a value, a '<' may not), then the one wanted
_ATTRS = r"""(?:\s+[^\s=<>"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*?"""
_CELL_ADDRESS = re.compile(rf"""<(?:[\w.-]+:)?c{_ATTRS}\s+r\s*=\s*["']([^"'<]*)""")
_ROW_NUMBER = re.compile(rf"""<(?:[\w.-]+:)?row{_ATTRS}\s+r\s*=\s*["']([^"'<]*)""")
_RANGE_REF = re.compile(
    rf"""<(?:[\w.-]+:)?(dimension|mergeCell|hyperlink|comment){_ATTRS}\s+ref\s*=\s*["']([^"'<]*)""")
_CELL_LINE = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$", re.MULTILINE)
_ROW_LINE = re.compile(r"^[0-9]{1,7}$", re.MULTILINE)
_COORD = re.compile(r"\$?([A-Za-z]*)\$?([0-9]*)")
_DECLARED = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
# openpyxl creates a cell object for every cell of these ranges while it loads the sheet
_MATERIALISED = {"mergeCell", "hyperlink", "comment"}
# OPC (ECMA-376 part 2): XML parts are UTF-8 or UTF-16; ASCII is UTF-8's subset
_OPC_CODECS = {"utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "ascii"}
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class PlanFormatError(ValueError):
    """The file is not an annual-plan table at all (not .xlsx, or no section captions),
    or it is unsafe to read (zip bomb, XML entity declarations, too many cells)."""


def not_an_xlsx(file: str, e: Exception) -> PlanFormatError:
    """The error for a file that does not open as .xlsx at all."""
    return PlanFormatError(
        f"{file}: 不是有效的xlsx文件(如为.xls请另存为.xlsx) / not a readable .xlsx file: "
        f"{type(e).__name__}: {e}")


def xml_codec(head: bytes) -> str | None:
    """The codec an XML parser reads a part with (from its BOM or its first ``<``, XML 1.0
    appendix F), or None when the part is not XML: a parser refuses a part that does not
    start with ``<`` after a BOM and white space, so nothing in it can cost."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    for codec in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be", "utf-8"):
        try:
            text = codecs.getincrementaldecoder(codec)(errors="strict").decode(head)
        except UnicodeDecodeError:
            continue
        if text.lstrip(" \t\r\n").startswith("<"):
            return codec
    return None


def check_package(path: Path, file: str) -> None:
    """Refuse, before openpyxl opens it, a file whose loading would cost more than a plan's.

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
        declared = sum(i.file_size for i in infos)
        if declared > MAX_UNPACKED_BYTES:
            raise _bomb(file, declared)
        unpacked = 0
        for info in infos:
            unpacked += _check_part(zf, info, file, MAX_UNPACKED_BYTES - unpacked)


def _bomb(file: str, n: int) -> PlanFormatError:
    return PlanFormatError(
        f"{file}: 解压后过大({n}字节), 疑似压缩炸弹 / unpacks to {n} bytes "
        f"(limit {MAX_UNPACKED_BYTES}): refused as a possible zip bomb")


def _check_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, file: str, room: int) -> int:
    """Stream one member (through the scanner when it is XML); the bytes it unpacked to."""
    n = 0
    try:
        with zf.open(info) as fh:
            chunk = fh.read(CHUNK)
            codec = xml_codec(chunk[:256])
            scan = _PartScan(file, info.filename, codec) if codec else None
            decoder = codecs.getincrementaldecoder(codec)(errors="replace") if codec else None
            while chunk:
                n += len(chunk)
                if n > room:
                    raise _bomb(file, MAX_UNPACKED_BYTES - room + n)
                if scan is not None:
                    scan.feed(decoder.decode(chunk))
                chunk = fh.read(CHUNK)
            if scan is not None:
                scan.feed(decoder.decode(b"", True))
                scan.close()
    except PlanFormatError:
        raise
    except Exception as e:  # noqa: BLE001 - bad CRC, unsupported compression, truncated member
        raise PlanFormatError(f"{file}: xlsx压缩包损坏 / damaged .xlsx member "
                              f"{info.filename}: {type(e).__name__}: {e}") from None
    return n


class _PartScan:
    """Counts and checks one XML part fed as decoded text, chunk by chunk.

    Text is scanned up to the last ``<``: every start tag is then whole in one scan (XML
    allows no ``<`` inside a tag), and text after a tag's ``>`` holds no markup, so only an
    unfinished tag is carried to the next chunk, at most MAX_TAG_CHARS of it.
    """

    def __init__(self, file: str, part: str, codec: str) -> None:
        self.file, self.part = file, part
        self.rest = ""
        self.started = False
        self.elements = self.cells = self.rows = self.created = 0
        if codec not in _OPC_CODECS:
            self.refuse(f"XML编码为{codec}, 只允许UTF-8/UTF-16", f"XML encoded as {codec}: "
                        f"an .xlsx part must be UTF-8 or UTF-16")

    def refuse(self, zh: str, en: str) -> None:
        raise PlanFormatError(f"{self.file}: {self.part} {zh}, 拒绝读取 / {en} (refused)")

    def feed(self, text: str) -> None:
        if not self.started and text:
            self.started = True
            self._check_declaration(text)
        buf = self.rest + text
        cut = buf.rfind("<")
        head, rest = (buf[:cut], buf[cut:]) if cut > 0 else ("", buf)
        gt = rest.find(">")
        if gt >= 0:            # the last tag is whole; what follows it is text
            head, rest = head + rest[:gt + 1], ""
        if len(rest) > MAX_TAG_CHARS:
            self.refuse(f"含有超过{MAX_TAG_CHARS}字符的标签", f"has a tag longer than {MAX_TAG_CHARS} characters")
        self.rest = rest
        self._scan(head)

    def close(self) -> None:
        self._scan(self.rest)
        self.rest = ""

    def _check_declaration(self, text: str) -> None:
        m = _DECLARED.match(text[:512])
        if m is None:
            return
        try:
            name = codecs.lookup(m[1]).name
        except LookupError:
            name = m[1]
        if name not in _OPC_CODECS:
            self.refuse(f"声明XML编码为{m[1]!r}, 只允许UTF-8/UTF-16", f"declares XML encoding {m[1]!r}: "
                        f"an .xlsx part must be UTF-8 or UTF-16")

    def _scan(self, text: str) -> None:
        """Counts and addresses: cells, rows, the dimension and the ranges openpyxl
        materialises (other refs, e.g. selections or DrawingML's ``<a:rect r=..>``, are kept
        as text by openpyxl and cost nothing)."""
        if _DTD.search(text):
            self.refuse("含有XML实体/DTD声明", "contains an XML DTD or entity declaration (entity expansion)")
        self.elements += len(_ELEMENT.findall(text))
        if self.elements > MAX_ELEMENTS:
            self.refuse(f"XML元素过多(超过{MAX_ELEMENTS}个)", f"has more than {MAX_ELEMENTS} XML elements")
        self.cells += len(_CELL_TAG.findall(text))
        self._check_created()
        self.rows += len(_ROW_TAG.findall(text))
        if self.rows > MAX_CELLS:
            self.refuse(f"工作表行数过多(超过{MAX_CELLS}行)", f"has more than {MAX_CELLS} rows")
        self._cells_in_grid(_CELL_ADDRESS.findall(text))
        self._rows_in_grid(_ROW_NUMBER.findall(text))
        for m in _RANGE_REF.finditer(text):
            for token in m[2].split():
                box = range_box(token)
                if box is None:
                    self._outside(m[1], token)
                if m[1] in _MATERIALISED:
                    c1, r1, c2, r2 = box
                    self.created += (c2 - c1 + 1) * (r2 - r1 + 1)
            self._check_created()

    def _check_created(self) -> None:
        if self.cells + self.created > MAX_CELLS:
            self.refuse(f"单元格过多({self.cells}个单元格, 合并/超链接/批注区域覆盖{self.created}个, "
                        f"超过{MAX_CELLS}个), 不像年度计划表",
                        f"would make more than {MAX_CELLS} cells ({self.cells} cells, {self.created} in "
                        f"merged, hyperlinked or commented ranges)")

    def _outside(self, tag: str, token: str) -> None:
        self.refuse(f"单元格地址{token[:40]!r}超出工作表范围(A1:XFD1048576)",
                    f"{tag} address {token[:40]!r} is outside the sheet grid A1:XFD1048576")

    def _cells_in_grid(self, refs: list[str]) -> None:
        """Every ``<c r=..>`` one cell inside A1:XFD1048576 (checked in bulk: a sheet has many)."""
        if not refs:
            return
        found = _CELL_LINE.findall("\n".join(refs))
        if (len(found) == len(refs) and all(len(c) < 3 or c.upper() <= "XFD" for c, _ in found)
                and 1 <= min(int(r) for _, r in found) and max(int(r) for _, r in found) <= SHEET_ROWS):
            return
        bad = next(r for r in refs if _CELL_LINE.fullmatch(r) is None or range_box(r) is None)
        self._outside("c", bad)

    def _rows_in_grid(self, numbers: list[str]) -> None:
        if not numbers:
            return
        if len(_ROW_LINE.findall("\n".join(numbers))) == len(numbers) and \
                1 <= min(map(int, numbers)) and max(map(int, numbers)) <= SHEET_ROWS:
            return
        bad = next(n for n in numbers if _ROW_LINE.fullmatch(n) is None or not 1 <= int(n) <= SHEET_ROWS)
        self.refuse(f"行号{bad[:20]!r}超出工作表范围", f"row number {bad[:20]!r} is outside the sheet")


def range_box(token: str) -> tuple[int, int, int, int] | None:
    """``B3:D7`` -> (2, 3, 4, 7) (first col, first row, last col, last row); ``A:A`` and ``3:3``
    are whole columns and rows; None for an address outside A1:XFD1048576 or not an address."""
    sides = token.split(":")
    if len(sides) > 2:
        return None
    cols, rows = [], []
    for side in sides:
        m = _COORD.fullmatch(side)
        if m is None or not (m[1] or m[2]) or len(m[1]) > 3 or len(m[2]) > 7:
            return None
        col = 0
        for ch in m[1].upper():
            col = col * 26 + ord(ch) - 64
        row = int(m[2]) if m[2] else 0
        if col > SHEET_COLS or row > SHEET_ROWS or (m[2] and row < 1):
            return None
        cols.append(col)
        rows.append(row)
    c1, c2 = (min(cols), max(cols)) if all(cols) else (1, SHEET_COLS)     # whole rows
    r1, r2 = (min(rows), max(rows)) if all(rows) else (1, SHEET_ROWS)     # whole columns
    return c1, r1, c2, r2
