"""Per-mine products rendered once: a mine's report and composites are made again only when
what they show changed.

``OUT/state/products/<licence>/<kind>-<digest>/`` holds the files last rendered for a mine,
where the digest is a hash of everything the files are made from (`digest`: the report's
data, the composite's arrays, the software's version and the renderers' source). A night
whose digest is there hard-links those files into its staging folder (a copy where links
cannot be made, e.g. another file system), so the published run folder holds the same bytes
a fresh render gives and its publication stays atomic; otherwise the night renders them and
keeps them here. Only the latest entry per mine and kind is kept.

A published file and its stored twin share one inode: outputs are only ever replaced by a
rename, never written in place, so neither can change the other; a user who edits a run
folder's file in place edits the stored twin too (the next change of the mine replaces it).
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import minewatch
from minewatch import labels
from minewatch.outputs import composites, navigation, pdf, report
from minewatch.plumbing.atomic import atomic_path

__all__ = ["COMPOSITE_CODE", "REPORT_CODE", "ProductStore", "digest"]

# the code each product is rendered by: a change to it renders again
REPORT_CODE = (report, pdf, navigation, labels)
COMPOSITE_CODE = (composites,)

log = logging.getLogger("minewatch")


def _feed(h: Any, x: Any) -> None:
    """`x` into the hash `h` by value: equal values give equal bytes whatever objects they are
    made of (pickle's bytes also depend on which objects are shared, e.g. strings a JSON
    reader made once)."""
    import dataclasses
    from datetime import date

    import numpy as np
    import pandas as pd
    from affine import Affine
    from shapely.geometry.base import BaseGeometry

    if x is None or isinstance(x, (bool, int, float, str, bytes)):
        h.update(f"{type(x).__name__}:{x!r};".encode())
    elif isinstance(x, date):
        h.update(f"date:{x.isoformat()};".encode())
    elif isinstance(x, np.ndarray):
        a = np.ascontiguousarray(x)
        h.update(f"array:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    elif isinstance(x, pd.DataFrame):
        h.update(f"frame:{list(map(str, x.columns))}:{[str(d) for d in x.dtypes]};".encode())
        h.update(pd.util.hash_pandas_object(x, index=True).to_numpy().tobytes())
    elif isinstance(x, BaseGeometry):
        h.update(b"geom:" + x.wkb)
    elif isinstance(x, Affine):
        _feed(h, tuple(x))
    elif isinstance(x, dict):
        h.update(f"dict:{len(x)};".encode())
        for k, v in x.items():
            _feed(h, k)
            _feed(h, v)
    elif isinstance(x, (list, tuple)):
        h.update(f"{type(x).__name__}:{len(x)};".encode())
        for v in x:
            _feed(h, v)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        h.update(f"{type(x).__qualname__}(".encode())
        for f in dataclasses.fields(x):
            _feed(h, f.name)
            _feed(h, getattr(x, f.name))
        h.update(b")")
    else:       # anything else by its pickle (a mismatch only renders again)
        h.update(pickle.dumps(x, protocol=5))


def digest(parts: Any, modules: tuple[ModuleType, ...] = ()) -> str:
    """sha256 of `parts` by value (`_feed`), minewatch's version and the source of `modules`
    (the code that renders them: a changed renderer renders again)."""
    h = hashlib.sha256()
    _feed(h, parts)
    h.update(minewatch.__version__.encode())
    for m in modules:
        h.update(Path(str(m.__file__)).read_bytes())
    return h.hexdigest()


def _link_or_copy(src: Path, dst: Path) -> None:
    """`dst` becomes `src`'s bytes in one step: a hard link, or an atomic copy across devices."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)


class ProductStore:
    """The products of earlier nights under ``root`` (OUT/state/products), by licence and digest."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.rendered = 0        # entries rendered by this store (the others were linked)
        self.linked = 0

    def _entry(self, license_no: str, kind: str, key: str) -> Path:
        return self.root / license_no / f"{kind}-{key}"

    def place(self, license_no: str, kind: str, key: str, files: Mapping[str, Path],
              render: Callable[[], object]) -> bool:
        """Every file of `files` (stored name -> destination) in place; True when taken from
        the store. Else `render()` writes every destination and they are stored under `key`."""
        entry = self._entry(license_no, kind, key)
        if entry.is_dir() and all((entry / n).is_file() for n in files):
            for n, dst in files.items():
                _link_or_copy(entry / n, dst)
            self.linked += 1
            return True
        render()
        self.rendered += 1
        try:
            self._keep(license_no, kind, entry, files)
        except OSError as e:        # the night's files are written; only tomorrow's shortcut is lost
            log.warning("products of %s not kept in %s: %s", license_no, self.root, e)
        return False

    def _keep(self, license_no: str, kind: str, entry: Path, files: Mapping[str, Path]) -> None:
        """The rendered files into the store under `entry`, published by one rename; the mine's
        older entries of this kind removed."""
        tmp = entry.with_name(f".{entry.name}.pid{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for n, src in files.items():
            _link_or_copy(src, tmp / n)
        shutil.rmtree(entry, ignore_errors=True)
        os.rename(tmp, entry)
        for old in (self.root / license_no).iterdir():
            if old != entry and (old.name.startswith(f"{kind}-") or old.name.startswith(f".{kind}-")):
                shutil.rmtree(old, ignore_errors=True)
