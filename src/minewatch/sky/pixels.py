"""Per-mine pixel store: each time step of a mine's window is read from the catalogue once.

A mine is judged on every scene from the baseline years to today (hundreds of steps),
but each night brings at most a few new ones. The store keeps, under
`OUT/state/pixels/<licence>/`, one file per time step (platform + solar day, as
`cube.load_window` merges them) holding exactly what `load_window` gives for that step:
offset-free DN per band, SCL codes and, if loaded, cloud probability, with its `id`,
time and scene fingerprints. `ingest` reads from the catalogue only the steps the store
lacks or whose scenes changed (another tile of the same day published later, a scene
reprocessed by the provider: new `updated`), replacing that step's file; `open` gives
the stored steps back as the same lazy (time, band, y, x) array `load_window` returns,
chunked along time, so everything downstream runs unchanged and memory stays bounded.

Files are lossless: the values are integers in the files (DN, SCL classes, percent), kept
as int16 (int32 if a value does not fit) with the type's minimum for NaN. A step file is
written atomically and never half present; a killed ingest resumes at the first missing step. A different grid (another
buffer or resolution in the config) or band list starts the mine's store afresh.

A scene with an asset that cannot be read (`reader.AssetReadError`: missing, 404, not a
TIFF, truncated, a damaged block) is skipped, never stored: `ingest` finds it (the failing
time chunk, then its steps, then the scenes of a merged step), reads every other step, and
reports it in `IngestReport.skipped` with the reason; a step merged from several tiles is
stored with the tiles that could be read. A skipped scene is not in the store, so the next
ingest tries it again. Only when nothing at all of the window could be read does the first
error propagate (the catalogue's files are down, not one bad file).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import dask
import dask.array as dsa
import numpy as np
import pystac
import xarray as xr
from stackstac.rio_env import LayeredEnv

from minewatch.plumbing.atomic import atomic_path, write_text
from minewatch.sky import cube
from minewatch.sky.reader import AssetReadError

log = logging.getLogger("minewatch")

FORMAT = 1
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Step:
    """One time step of a window: the scenes of one platform and solar day."""
    key: str                     # file name stem: "<platform>_<solar day>"
    id: str                      # the scenes' ids joined by cube.ID_SEP, in merge order
    day: date
    fingerprint: str             # changes when any scene of the step changes
    items: tuple = field(repr=False, default=())


def _scene_print(it: pystac.Item) -> str:
    p = it.properties
    # hrefs without their query: a signed Planetary Computer href carries a new SAS token each night
    return "|".join([it.id, str(p.get("updated", "")), str(cube.reflectance_offset(it)),
                     *(f"{k}={a.href.split('?', 1)[0]}" for k, a in sorted(it.assets.items()))])


def steps_of(items: list[pystac.Item]) -> list[Step]:
    """The time steps `cube.load_window(items, ...)` would give, in its order."""
    ordered = cube.load_order(items)
    out = []
    for g in cube.same_day_groups(ordered):
        its = tuple(ordered[i] for i in g)
        day = cube.solar_day(its[0])
        fp = hashlib.sha256("\n".join(_scene_print(it) for it in its).encode()).hexdigest()[:16]
        out.append(Step(f"{cube.platform(its[0])}_{day.isoformat()}", cube.ID_SEP.join(it.id for it in its),
                        day, fp, its))
    return out


@dataclass(frozen=True)
class SkippedScene:
    """A scene left out of a window because one of its assets could not be read."""
    id: str
    reason: str          # the href and what is wrong with it, one line


@dataclass
class IngestReport:
    read: list[str] = field(default_factory=list)      # step keys read from the catalogue this time
    stored: list[str] = field(default_factory=list)    # step keys already in the store, not read
    pruned: list[str] = field(default_factory=list)    # step files dropped (before `keep_from`)
    skipped: list[SkippedScene] = field(default_factory=list)   # scenes whose assets could not be read
    headers: dict = field(default_factory=dict, repr=False)   # step key -> stored header, for `open`


class PixelStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def dir(self, license_no: str) -> Path:
        return self.root / license_no

    def _path(self, license_no: str, key: str) -> Path:
        return self.dir(license_no) / f"{key}.npz"

    # -- what is stored
    def _meta(self, grid: cube.Grid, assets: list[str]) -> dict:
        return {"format": FORMAT, "epsg": grid.epsg, "bounds": list(grid.bounds),
                "resolution": grid.resolution, "bands": list(assets)}

    def _prepare(self, license_no: str, grid: cube.Grid, assets: list[str]) -> None:
        d, meta = self.dir(license_no), self._meta(grid, assets)
        mp = d / "meta.json"
        if mp.exists():
            try:
                if json.loads(mp.read_text(encoding="utf-8")) == meta:
                    return
            except ValueError:
                pass
            log.info("mine %s: grid or bands changed, pixel store started afresh", license_no)
            shutil.rmtree(d)
        write_text(mp, json.dumps(meta, sort_keys=True) + "\n")

    def header(self, license_no: str, key: str) -> dict | None:
        """The stored step's id, fingerprint, time and n_scenes; None if absent or unreadable."""
        p = self._path(license_no, key)
        if not p.exists():
            return None
        try:
            # our own handle: np.load leaves its file open when a damaged zip fails to parse
            with open(p, "rb") as fh, np.load(fh) as z:
                return json.loads(str(z["header"]))
        except Exception:  # noqa: BLE001 - a damaged step file is read again, never fatal
            return None

    def _current(self, license_no: str, st: Step) -> dict | None:
        """The stored header of `st` if the store holds this version of it."""
        h = self.header(license_no, st.key)
        return h if h is not None and h["id"] == st.id and h["fingerprint"] == st.fingerprint else None

    # -- writing
    def _write(self, license_no: str, st: Step, values: np.ndarray, time: np.datetime64, n_scenes: int) -> dict:
        # int16 when the step's values fit (they nearly always do: ~20% smaller files), else int32
        finite = values[~np.isnan(values)]
        small = finite.size == 0 or (finite.min() > np.iinfo(np.int16).min and finite.max() <= np.iinfo(np.int16).max)
        dt = np.int16 if small else np.int32
        data = np.where(np.isnan(values), np.iinfo(dt).min, values).astype(dt)
        header = {"id": st.id, "fingerprint": st.fingerprint, "time": str(time), "n_scenes": int(n_scenes)}
        with atomic_path(self._path(license_no, st.key)) as tmp:
            # np.savez stamps each member with the current time: same content, same bytes instead
            # (level 1: a step's pixels are noisy; level 6 took 4x the time for 2% less)
            with zipfile.ZipFile(tmp, "w") as z:
                for name, arr in (("values", data), ("header", np.array(json.dumps(header, sort_keys=True)))):
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, arr, allow_pickle=False)
                    z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_ZIP_TIME), buf.getvalue(),
                               compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
        return header

    def _write_chunk(self, license_no: str, steps: list[Step], values: np.ndarray, times: np.ndarray,
                     n_scenes: np.ndarray) -> list[dict]:
        return [self._write(license_no, st, values[k], times[k], int(n_scenes[k])) for k, st in enumerate(steps)]

    def ingest(self, license_no: str, items: list[pystac.Item], grid: cube.Grid, *,
               assets: Sequence[str] | None = None, chunk_time: int = 16, reader: type | None = None,
               gdal_env: LayeredEnv | None = None, keep_from: date | None = None) -> IngestReport:
        """Read the steps of `items` the store lacks (or whose scenes changed) and store them.

        `assets`, `reader`, `gdal_env`: as `cube.load_window`. `keep_from`: step files of days before it that
        are not among `items` are deleted (they fell out of the analysis period).
        """
        assets = list(assets) if assets is not None else cube.default_assets(items)
        self._prepare(license_no, grid, assets)
        steps = steps_of(items)
        rep = IngestReport()
        todo = []
        for st in steps:
            h = self._current(license_no, st)
            if h is None:
                todo.append(st)
            else:
                rep.stored.append(st.key)
                rep.headers[st.key] = h
        if todo:
            read = Reading(self, license_no, grid, assets, chunk_time, reader, gdal_env)
            try:
                rep.headers.update(read.steps(todo))
                rep.read = [st.key for st in todo]
            except AssetReadError as e:
                headers, rep.skipped = read.around(todo, e, anything_stored=bool(rep.stored))
                rep.headers.update(headers)
                rep.read = list(headers)
        if keep_from is not None:
            wanted = {st.key for st in steps}
            for p in sorted(self.dir(license_no).glob("*.npz")):
                day = p.stem.rsplit("_", 1)[-1]
                if p.stem not in wanted and day < keep_from.isoformat():
                    p.unlink()
                    rep.pruned.append(p.stem)
        return rep

    def usable(self, items: list[pystac.Item], rep: IngestReport) -> list[pystac.Item]:
        """`items` less the scenes `ingest` skipped: what `open` gives back."""
        gone = {sk.id for sk in rep.skipped}
        return [it for it in items if it.id not in gone]

    # -- reading
    def open(self, license_no: str, items: list[pystac.Item], grid: cube.Grid, *, chunk_time: int = 16,
             headers: dict | None = None, window: tuple[slice, slice] | None = None) -> xr.DataArray:
        """The stored steps of `items` as `cube.load_window` gives them: lazy float32
        (time, band, y, x), coords time, band, y, x, id, n_scenes. Every step must be
        stored and current (`ingest` first). `headers`: `IngestReport.headers` of the
        ingest just done (spares reading every step's header again). `window`: only these
        (y, x) slices of the grid (each step file is still read whole, one at a time)."""
        meta = json.loads((self.dir(license_no) / "meta.json").read_text(encoding="utf-8"))
        if meta != self._meta(grid, meta["bands"]):
            raise RuntimeError(f"mine {license_no}: the pixel store holds another grid")
        bands = meta["bands"]
        steps = steps_of(items)
        found = [(headers or {}).get(st.key) or self.header(license_no, st.key) for st in steps]
        for st, h in zip(steps, found):
            if h is None or h["id"] != st.id or h["fingerprint"] != st.fingerprint:
                raise RuntimeError(f"mine {license_no}: step {st.key} is not in the pixel store")
        step_headers = [h for h in found if h is not None]   # all of them, by the check above
        ys, xs = window or (slice(0, grid.shape[0]), slice(0, grid.shape[1]))
        rows, cols = np.arange(grid.shape[0])[ys], np.arange(grid.shape[1])[xs]
        win = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)) if window else None
        paths = [str(self._path(license_no, st.key)) for st in steps]
        blocks = []
        for t0 in range(0, len(paths), chunk_time):
            part = paths[t0:t0 + chunk_time]
            blocks.append(dsa.from_delayed(dask.delayed(read_steps, pure=True)(tuple(part), win),
                                           shape=(len(part), len(bands), rows.size, cols.size), dtype=np.float32))
        data = dsa.concatenate(blocks, axis=0)
        x0, y1, r = grid.bounds[0], grid.bounds[3], grid.resolution
        return xr.DataArray(
            data, dims=("time", "band", "y", "x"), name="stackstac-pixels",
            coords={"time": np.array([np.datetime64(hh["time"], "ns") for hh in step_headers]),
                    "band": np.array(bands),
                    "y": y1 - r * (rows + 0.5), "x": x0 + r * (cols + 0.5),
                    "id": ("time", np.array([hh["id"] for hh in step_headers], dtype=object)),
                    "n_scenes": ("time", np.array([hh["n_scenes"] for hh in step_headers], dtype="int16")),
                    "epsg": grid.epsg})


@dataclass
class Reading:
    """One ingest's reads from the catalogue into the store: all at once, or around bad scenes."""
    store: PixelStore
    license_no: str
    grid: cube.Grid
    assets: list[str]
    chunk_time: int
    reader: type | None
    gdal_env: LayeredEnv | None

    def _cube(self, items: list[pystac.Item]) -> xr.DataArray:
        return cube.load_window(items, self.grid, assets=self.assets, chunk_time=self.chunk_time,
                                reader=self.reader, gdal_env=self.gdal_env)

    def steps(self, todo: list[Step]) -> dict[str, dict]:
        """Read `todo` and store each step; its headers by step key. AssetReadError if any asset fails."""
        raw = self._cube([it for st in todo for it in st.items])
        if list(raw.id.values) != [st.id for st in todo]:     # the same grouping, or a bug
            raise RuntimeError(f"mine {self.license_no}: steps read do not match the steps planned")
        # one task per time chunk reads it and writes its steps: reading and compressing
        # overlap across the scheduler's threads, and only a few chunks are in memory at once
        writes = []
        ct = self.chunk_time
        for t0 in range(0, len(todo), ct):
            part = raw.isel(time=slice(t0, t0 + ct))
            bare = [replace(st, items=()) for st in todo[t0:t0 + ct]]
            writes.append(dask.delayed(self.store._write_chunk, pure=True)(
                self.license_no, bare, part.data, part.time.values, part.n_scenes.values))
        return {st.key: h for st, h in zip(todo, [h for hs in dask.compute(*writes) for h in hs])}

    def around(self, todo: list[Step], first: AssetReadError, *,
               anything_stored: bool) -> tuple[dict[str, dict], list[SkippedScene]]:
        """After `steps(todo)` failed: read what can be read, chunk by chunk, then step by step,
        and find the scenes that cannot (a merged step is tried scene by scene)."""
        headers: dict[str, dict] = {}
        bad: dict[str, str] = {}
        for t0 in range(0, len(todo), self.chunk_time):
            chunk = [st for st in todo[t0:t0 + self.chunk_time] if not self._keep(st, headers)]
            try:
                headers.update(self.steps(chunk) if chunk else {})
                continue
            except AssetReadError:
                pass
            for st in chunk:
                try:
                    headers.update(self.steps([st]))
                except AssetReadError as e:
                    bad.update(self._culprits(st, e))
        # merged steps that lost a tile: the rest of that overpass, as one step again
        rest = steps_of([it for st in todo for it in st.items if it.id not in bad])
        again = [st for st in rest if not self._keep(st, headers)]
        if again:
            headers.update(self.steps(again))
        if not headers and not anything_stored:
            raise first              # nothing of the window is readable: not one bad file
        for sid, why in bad.items():
            log.warning("mine %s: scene %s skipped, an asset cannot be read: %s", self.license_no, sid, why)
        return headers, [SkippedScene(sid, why) for sid, why in sorted(bad.items())]

    def _keep(self, st: Step, headers: dict[str, dict]) -> bool:
        """True when `st` is already stored in this version (a chunk written before the failure)."""
        h = headers.get(st.key)
        h = h if h is not None and h["id"] == st.id else self.store._current(self.license_no, st)
        if h is not None and h["fingerprint"] == st.fingerprint:
            headers[st.key] = h
            return True
        return False

    def _culprits(self, st: Step, e: AssetReadError) -> dict[str, str]:
        if len(st.items) == 1:
            return {st.items[0].id: str(e)}
        bad = {}
        for it in st.items:
            try:
                self._cube([it]).compute()
            except AssetReadError as e1:
                bad[it.id] = str(e1)
        return bad or {it.id: str(e) for it in st.items}


def read_steps(paths: tuple[str, ...], window: tuple[slice, slice] | None = None) -> np.ndarray:
    """The step files at `paths` as one float32 (time, band, y, x) array, NaN where nothing was
    stored; `window`: only these (y, x) slices (a step is read whole, then cut)."""
    arrs = []
    for p in paths:
        with np.load(p) as z:
            v = z["values"]
        if window is not None:
            v = v[(..., *window)]
        out = v.astype(np.float32)
        out[v == np.iinfo(v.dtype).min] = np.nan
        arrs.append(out)
    return np.stack(arrs)
