"""HTML -> PDF with headless Chromium, byte-reproducible.

Chromium (Debian package chromium) prints the page with its own CSS `@page` rules (A4, header,
page numbers: see report.CSS); its PDF carries the print time (/CreationDate, /ModDate) and
a random /ID, so pikepdf rewrites it without dates and with an id derived from the content:
the same HTML gives the same bytes on every rerun.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from minewatch.plumbing.atomic import atomic_path

__all__ = ["chromium_args", "chromium_binary", "html_to_pdf", "normalise_pdf"]


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def chromium_args(binary: str, profile_dir: str | Path | None = None) -> list[str]:
    """Headless flags: no sandbox (CI runs as root), no network chatter, a throw-away profile."""
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars"]
    if profile_dir is not None:
        args.append(f"--user-data-dir={profile_dir}")
    return args


def normalise_pdf(src: str | Path, dst: str | Path) -> None:
    """Drop the print dates and metadata stream; a content-derived /ID (pikepdf deterministic_id)."""
    import pikepdf

    with pikepdf.open(src) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            for k in list(meta.keys()):
                del meta[k]
        if "/Metadata" in pdf.Root:
            del pdf.Root.Metadata
        info = pdf.docinfo
        for k in ("/CreationDate", "/ModDate"):
            if k in info:
                del info[k]
        pdf.save(dst, deterministic_id=True, compress_streams=True,
                 object_stream_mode=pikepdf.ObjectStreamMode.preserve)


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, timeout: float = 120) -> Path:
    """Print the HTML with headless Chromium to `pdf_path`, atomically and reproducibly."""
    binary = chromium_binary()
    if binary is None:
        raise FileNotFoundError("headless Chromium not found: install Debian package chromium for PDF output")
    with tempfile.TemporaryDirectory(prefix="minewatch-chromium-") as tmpdir, atomic_path(pdf_path) as tmp:
        raw = Path(tmpdir) / "raw.pdf"
        subprocess.run(chromium_args(binary, Path(tmpdir) / "profile") +
                       ["--no-pdf-header-footer", f"--print-to-pdf={raw}", Path(html_path).resolve().as_uri()],
                       check=True, capture_output=True, timeout=timeout)
        if not raw.is_file() or raw.stat().st_size == 0:
            raise RuntimeError("Chromium wrote an empty PDF")
        normalise_pdf(raw, tmp)
    return Path(pdf_path)
