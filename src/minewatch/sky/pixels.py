"""Per-mine pixel store: each time step of a mine's window is read from the catalogue once.

A mine is judged on every scene from the baseline years to today (hundreds of steps),
but each night brings at most a few new ones. The store keeps, per mine, one Zarr group
(format 2, readable by `xr.open_zarr` and any Zarr reader) at `<root>/<licence>.zarr`,
where `root` is any fsspec URL (a local folder by default, `s3://...` for a cluster).
It holds exactly what `cube.load_window` gives per time step (platform + solar day):
offset-free DN per band, SCL codes and, if loaded, cloud probability, as

- `pixels` (time, band, y, x) int32, `_FillValue` int32 min for NaN: lossless (the values
  are integers: DN, SCL classes, percent); Blosc zstd with byte shuffle, so the two high
  bytes that int16 would have saved cost almost nothing. Chunked (1 step, all bands,
  `store_chunk_px`, `store_chunk_px`): a per-pixel computation reads one spatial chunk of
  every step without reading whole windows;
- per slot of the time axis: `time`, `step` (the key "<platform>_<solar day>"), `id` (the
  scenes' ids), `fingerprint` (changes when any scene of the step changes), `n_scenes`,
  `nbytes` (the slot's chunk bytes, to find a damaged chunk) and `committed` (1: this slot
  is a current step; 0: written by an ingest that did not finish, replaced or pruned);
- the group's attributes: the grid (epsg, bounds, resolution), the band list, the chunk size.

Another tool reads the current steps with `ds = xr.open_zarr(url); ds.isel(time=ds.committed.values == 1)`.

Writes are atomic per update by zarr's own guarantees plus a commit marker: every object
is written whole (zarr's LocalStore writes a temp file and renames it; an S3 PUT is
atomic), a batch of steps is appended along time (`to_zarr(append_dim="time")`) with
`committed` 0, and only then is the one-chunk `committed` array rewritten with the batch at
1 (and a step it replaces at 0). A killed ingest leaves uncommitted slots at the end of the
time axis, which the next ingest cuts off before it appends: it resumes at the first step
not committed. A replaced step (a scene's `updated` changed, another tile of the day
published later) is appended anew and its old slot uncommitted, never overwritten in
place; old steps pruned are uncommitted too. Their slots stay in the middle of the time
axis (a few per year: a store is never compacted today). A different grid (another buffer
or resolution in the config), band list or chunk size starts the mine's store afresh.
`ingest` reads from the catalogue only the steps the store lacks, whose scenes changed or
whose chunks no longer have the bytes written (a damaged chunk); `open` gives the stored
steps back as the same lazy (time, band, y, x) float32 array `load_window` returns.

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
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dask
import dask.array as dsa
import fsspec
import numcodecs
import numpy as np
import pystac
import xarray as xr
import zarr
from fsspec.implementations.local import LocalFileSystem
from stackstac.rio_env import LayeredEnv

from minewatch.sky import cube
from minewatch.sky.reader import AssetReadError

log = logging.getLogger("minewatch")

FORMAT = 2                         # 1: one zip per step (before Zarr)
FILL = int(np.iinfo(np.int32).min)  # NaN in `pixels`
SLOTS_PER_CHUNK = 4096             # the time axis' small arrays: one object each for this many slots
BATCH_CHUNKS = 4                   # time chunks appended per commit: the most a killed ingest reads again
_SLOT_VARS = ("step", "id", "fingerprint", "n_scenes", "nbytes", "committed")


@dataclass(frozen=True)
class Step:
    """One time step of a window: the scenes of one platform and solar day."""
    key: str                     # "<platform>_<solar day>": the `step` of its slot in the store
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


def zarr_store(url: str, storage_options: Mapping[str, Any], *, read_only: bool = False) -> zarr.abc.store.Store:
    """The zarr store at an fsspec URL (a plain path: zarr's LocalStore, which writes each object atomically)."""
    fs, path = fsspec.core.url_to_fs(url, **storage_options)
    if isinstance(fs, LocalFileSystem):
        return zarr.storage.LocalStore(path, read_only=read_only)
    return zarr.storage.FsspecStore.from_url(url, storage_options=dict(storage_options), read_only=read_only)


@dataclass(frozen=True)
class Slots:
    """A store's time axis, slot by slot (the small arrays beside `pixels`)."""
    step: np.ndarray
    id: np.ndarray
    fingerprint: np.ndarray
    time: np.ndarray             # datetime64[ns]
    n_scenes: np.ndarray
    nbytes: np.ndarray
    committed: np.ndarray

    def current(self) -> dict[str, dict]:
        """Step key -> header (id, fingerprint, time, n_scenes, slot, nbytes) of the committed slots;
        a key committed twice (a kill between committing a replacement and dropping the old one,
        across two chunks of `committed`): the later slot."""
        out = {}
        for i in np.flatnonzero(self.committed == 1):
            out[str(self.step[i])] = {"id": str(self.id[i]), "fingerprint": str(self.fingerprint[i]),
                                      "time": str(self.time[i]), "n_scenes": int(self.n_scenes[i]),
                                      "slot": int(i), "nbytes": int(self.nbytes[i])}
        return out

    def end(self) -> int:
        """The length of the time axis up to its last committed slot: the rest is a killed write's."""
        done = np.flatnonzero(self.committed == 1)
        return int(done[-1]) + 1 if done.size else 0


class PixelStore:
    def __init__(self, root: str | Path, *, storage_options: Mapping[str, Any] | None = None) -> None:
        self.root = str(root).rstrip("/")
        self.storage_options = dict(storage_options or {})     # fsspec's, e.g. an S3 endpoint and keys
        self.fs, self._root = fsspec.core.url_to_fs(self.root, **self.storage_options)

    def url(self, license_no: str) -> str:
        """The mine's Zarr group: open it with `xr.open_zarr(url, storage_options=...)`."""
        return f"{self.root}/{license_no}.zarr"

    def _fspath(self, license_no: str) -> str:
        return f"{self._root}/{license_no}.zarr"

    def _store(self, license_no: str, read_only: bool = False) -> zarr.abc.store.Store:
        return zarr_store(self.url(license_no), self.storage_options, read_only=read_only)

    # -- what is stored
    def _meta(self, grid: cube.Grid, assets: list[str], chunk_px: int) -> dict:
        return {"minewatch_pixels": FORMAT, "epsg": grid.epsg, "bounds": list(grid.bounds),
                "resolution": grid.resolution, "bands": list(assets), "chunk_px": chunk_px}

    def _group(self, license_no: str, mode: str = "r") -> zarr.Group | None:
        """The mine's group; read ("r") through its consolidated metadata (one object: the state
        at the last commit, so a killed write's tail is not even seen), written ("r+") with the
        true shapes."""
        self.fs.invalidate_cache()          # s3fs lists from a cache: what another process wrote
        if not self.fs.exists(f"{self._fspath(license_no)}/.zgroup"):
            return None
        return zarr.open_group(self._store(license_no, read_only=mode == "r"), mode=mode, zarr_format=2,
                               use_consolidated=None if mode == "r" else False)

    def _slots(self, license_no: str) -> Slots | None:
        g = self._group(license_no)
        if g is None or "pixels" not in g:
            return None
        t = g["time"][:].astype("int64").view("datetime64[ns]")
        return Slots(time=t, **{v: g[v][:] for v in _SLOT_VARS})

    def _prepare(self, license_no: str, meta: dict) -> Slots | None:
        """The store's slots if it holds this grid and band list; else the store is started afresh (None)."""
        try:
            g = self._group(license_no)
            if g is None:
                return None
            if {k: g.attrs.get(k) for k in meta} == meta:
                return self._slots(license_no)
            log.info("mine %s: grid or bands changed, pixel store started afresh", license_no)
        except Exception as e:  # noqa: BLE001 - an unreadable store is read again, never fatal
            log.warning("mine %s: pixel store unreadable (%s), started afresh", license_no, e)
        self.fs.rm(self._fspath(license_no), recursive=True)
        return None

    def _chunk_bytes(self, license_no: str) -> dict[int, int]:
        """Bytes of `pixels` chunk objects per slot, as the store lists them now."""
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(f"{self._fspath(license_no)}/pixels", detail=True)
        except FileNotFoundError:
            return {}
        out: dict[int, int] = {}
        for p, info in found.items():
            name = p.rsplit("/", 1)[-1]
            if name[:1].isdigit() and not name.endswith(".partial"):    # not .zarray nor a temp file
                slot = int(name.split(".", 1)[0])
                out[slot] = out.get(slot, 0) + int(info["size"])
        return out

    def header(self, license_no: str, key: str) -> dict | None:
        """The committed step's id, fingerprint, time, n_scenes and slot; None if absent or unreadable."""
        try:
            slots = self._slots(license_no)
        except Exception:  # noqa: BLE001 - a damaged store is read again, never fatal
            return None
        return slots.current().get(key) if slots is not None else None

    def _current(self, license_no: str, st: Step) -> dict | None:
        """The stored header of `st` if the store holds this version of it."""
        h = self.header(license_no, st.key)
        return h if h is not None and h["id"] == st.id and h["fingerprint"] == st.fingerprint else None

    # -- writing
    def _encoding(self, n_bands: int, shape: tuple[int, int], c: int) -> dict:
        # zstd level 1 with byte shuffle: int32 DN cost about what int16 did, at deflate-1's speed
        enc = {"pixels": {"chunks": (1, n_bands, min(c, shape[0]), min(c, shape[1])), "dtype": "int32",
                          "compressors": (numcodecs.Blosc("zstd", 1, shuffle=numcodecs.Blosc.SHUFFLE),),
                          "_FillValue": FILL},
               "time": {"units": "nanoseconds since 1970-01-01", "calendar": "proleptic_gregorian",
                        "dtype": "int64", "chunks": (SLOTS_PER_CHUNK,)}}
        enc.update({v: {"chunks": (SLOTS_PER_CHUNK,)} for v in _SLOT_VARS})
        return enc

    def _cut(self, license_no: str, slots: Slots | None) -> tuple[Slots | None, int]:
        """Drop the slots after the last committed one (a killed ingest's, a replaced step's) from the
        time axis; (slots, the length appends start at). (None, 0): no store left."""
        if slots is None:
            return None, 0
        n = slots.end()
        if n == 0:
            self.fs.rm(self._fspath(license_no), recursive=True)
            return None, 0
        g = self._group(license_no, "r+")
        assert g is not None     # the mine's store exists: its slots were read above
        if g["pixels"].shape[0] > n:
            for v in ("pixels", "time", *_SLOT_VARS):
                g[v].resize((n, *g[v].shape[1:]))
            zarr.consolidate_metadata(self._store(license_no), zarr_format=2)
        return slots, n

    def _append(self, license_no: str, meta: dict, steps: list[Step], part: xr.DataArray,
                grid: cube.Grid) -> dict[str, dict]:
        """Append `part` (those steps, as `load_window` gives them) and commit it; headers by step key."""
        slots, n0 = self._cut(license_no, self._slots(license_no))
        k = len(steps)
        data = part.data
        ints = dsa.where(dsa.isnan(data), FILL, data).astype(np.int32)
        ds = xr.Dataset({"pixels": (("time", "band", "y", "x"), ints)}, coords={
            "time": part.time.values.astype("datetime64[ns]"),
            "step": ("time", np.array([st.key for st in steps], dtype=object)),
            "id": ("time", np.array([st.id for st in steps], dtype=object)),
            "fingerprint": ("time", np.array([st.fingerprint for st in steps], dtype=object)),
            "n_scenes": ("time", part.n_scenes.values.astype(np.int16)),
            "nbytes": ("time", np.zeros(k, np.int64)), "committed": ("time", np.zeros(k, np.int8))})
        store = self._store(license_no)
        ds.attrs.update(meta)          # an append writes the group's attributes again
        if slots is None:
            ds = ds.assign_coords(band=list(meta["bands"]), y=grid_y(grid), x=grid_x(grid))
            enc = self._encoding(len(meta["bands"]), grid.shape, meta["chunk_px"])
            ds.to_zarr(store, mode="w", encoding=enc, zarr_format=2, consolidated=False, write_empty_chunks=True)
        else:
            ds.to_zarr(store, mode="a", append_dim="time", consolidated=False, write_empty_chunks=True)
        # the commit: each slot's bytes, then `committed` (one object) with the batch in, what it replaces out
        sizes = self._chunk_bytes(license_no)
        g = self._group(license_no, "r+")
        assert g is not None     # the mine's store exists: its slots were read above
        g["nbytes"][n0:n0 + k] = np.array([sizes.get(n0 + i, 0) for i in range(k)], np.int64)
        keys = {st.key for st in steps}
        flags = g["committed"][:]
        old = [str(v) for v in g["step"][:n0]]
        flags[:n0][np.array([v in keys for v in old], bool)] = 0
        flags[n0:n0 + k] = 1
        self._commit(license_no, g, flags)
        return {st.key: {"id": st.id, "fingerprint": st.fingerprint, "time": str(ds.time.values[i]),
                         "n_scenes": int(ds.n_scenes.values[i]), "slot": n0 + i,
                         "nbytes": sizes.get(n0 + i, 0)} for i, st in enumerate(steps)}

    def _commit(self, license_no: str, g: zarr.Group, flags: np.ndarray) -> None:
        """Write the commit marker, then the consolidated metadata other tools read."""
        g["committed"][:] = flags
        zarr.consolidate_metadata(self._store(license_no), zarr_format=2)

    def ingest(self, license_no: str, items: list[pystac.Item], grid: cube.Grid, *,
               assets: Sequence[str] | None = None, chunk_time: int = 16, reader: type | None = None,
               gdal_env: LayeredEnv | None = None, keep_from: date | None = None,
               chunk_px: int = 512) -> IngestReport:
        """Read the steps of `items` the store lacks (or whose scenes changed) and store them.

        `assets`, `reader`, `gdal_env`: as `cube.load_window`. `chunk_px`: the spatial chunk
        edge of `pixels` (imagery.store_chunk_px; another one starts the store afresh).
        `keep_from`: steps of days before it that are not among `items` are dropped (they fell
        out of the analysis period).
        """
        assets = list(assets) if assets is not None else cube.default_assets(items)
        meta = self._meta(grid, assets, chunk_px)
        slots = self._prepare(license_no, meta)
        current = slots.current() if slots is not None else {}
        sizes = self._chunk_bytes(license_no) if current else {}
        steps = steps_of(items)
        rep = IngestReport()
        todo = []
        for st in steps:
            h = current.get(st.key)
            # the bytes written then, still there: else a damaged chunk, read again
            if h is not None and (h["id"], h["fingerprint"]) == (st.id, st.fingerprint) \
                    and sizes.get(h["slot"], 0) == h["nbytes"]:
                rep.stored.append(st.key)
                rep.headers[st.key] = h
            else:
                todo.append(st)
        if todo:
            read = Reading(self, license_no, grid, assets, meta, chunk_time, reader, gdal_env)
            try:
                rep.headers.update(read.steps(todo))
                rep.read = [st.key for st in todo]
            except AssetReadError as e:
                headers, rep.skipped = read.around(todo, e, anything_stored=bool(rep.stored))
                rep.headers.update(headers)
                rep.read = list(headers)
        if keep_from is not None:
            rep.pruned = self._prune(license_no, {st.key for st in steps}, keep_from)
        return rep

    def _prune(self, license_no: str, wanted: set[str], keep_from: date) -> list[str]:
        slots = self._slots(license_no)
        if slots is None:
            return []
        gone = {k: h["slot"] for k, h in slots.current().items()
                if k not in wanted and k.rsplit("_", 1)[-1] < keep_from.isoformat()}
        if gone:
            flags = slots.committed.copy()
            flags[list(gone.values())] = 0
            self._commit(license_no, self._group(license_no, "r+"), flags)
        return sorted(gone)

    def usable(self, items: list[pystac.Item], rep: IngestReport) -> list[pystac.Item]:
        """`items` less the scenes `ingest` skipped: what `open` gives back."""
        gone = {sk.id for sk in rep.skipped}
        return [it for it in items if it.id not in gone]

    # -- reading
    def open(self, license_no: str, items: list[pystac.Item], grid: cube.Grid, *, chunk_time: int = 16,
             headers: dict | None = None, chunk_px: int | None = None,
             window: tuple[slice, slice] | None = None) -> xr.DataArray:
        """The stored steps of `items` as `cube.load_window` gives them: lazy float32
        (time, band, y, x), coords time, band, y, x, id, n_scenes, chunked by `chunk_time`
        steps and (`chunk_px`, None: the whole window) in space. Every step must be stored
        and current (`ingest` first). `headers`: `IngestReport.headers` of the ingest just
        done (spares reading the time axis again). `window`: only these (y, x) slices of the
        grid (step 1), read from the store's spatial chunks they cross only."""
        g = self._group(license_no)
        if g is None or {k: g.attrs.get(k) for k in ("epsg", "bounds", "resolution")} != {
                "epsg": grid.epsg, "bounds": list(grid.bounds), "resolution": grid.resolution}:
            raise RuntimeError(f"mine {license_no}: the pixel store holds another grid")
        bands = list(g.attrs["bands"])
        steps = steps_of(items)
        known = headers or {}
        if any(st.key not in known for st in steps):
            slots = self._slots(license_no)
            known = {**(slots.current() if slots is not None else {}), **known}
        found = [known.get(st.key) for st in steps]
        for st, h in zip(steps, found):
            if h is None or h["id"] != st.id or h["fingerprint"] != st.fingerprint:
                raise RuntimeError(f"mine {license_no}: step {st.key} is not in the pixel store")
        step_headers = [h for h in found if h is not None]   # all of them, by the check above
        h, w = grid.shape
        ys, xs = window or (slice(0, h), slice(0, w))
        rows_i, cols_i = np.arange(h)[ys], np.arange(w)[xs]
        wy = (int(rows_i[0]), int(rows_i[-1]) + 1) if rows_i.size else (0, 0)
        wx = (int(cols_i[0]), int(cols_i[-1]) + 1) if cols_i.size else (0, 0)
        cy = h if chunk_px is None else chunk_px
        cx = w if chunk_px is None else chunk_px
        # block edges at multiples of the chunk side, within the window
        y_edges = sorted({wy[0], wy[1], *range((wy[0] // cy + 1) * cy, wy[1], cy)})
        x_edges = sorted({wx[0], wx[1], *range((wx[0] // cx + 1) * cx, wx[1], cx)})
        url, opts = self.url(license_no), self.storage_options
        rows = []
        for t0 in range(0, len(steps), chunk_time):
            part = step_headers[t0:t0 + chunk_time]
            slot_ids = tuple(hh["slot"] for hh in part)
            prints = tuple(hh["fingerprint"] for hh in part)     # a cut slot is written again: in the key
            rows.append([[dsa.from_delayed(
                dask.delayed(read_slots, pure=True)(url, opts, slot_ids, prints, (y0, y1), (x0, x1)),
                shape=(len(part), len(bands), y1 - y0, x1 - x0), dtype=np.float32)
                for x0, x1 in zip(x_edges, x_edges[1:])] for y0, y1 in zip(y_edges, y_edges[1:])])
        data = (dsa.block([[t] for t in rows]) if rows
                else dsa.zeros((0, len(bands), wy[1] - wy[0], wx[1] - wx[0]), np.float32))
        return xr.DataArray(
            data, dims=("time", "band", "y", "x"), name="stackstac-pixels",
            coords={"time": np.array([np.datetime64(hh["time"], "ns") for hh in step_headers], "datetime64[ns]"),
                    "band": np.array(bands), "y": grid_y(grid)[wy[0]:wy[1]], "x": grid_x(grid)[wx[0]:wx[1]],
                    "id": ("time", np.array([hh["id"] for hh in step_headers], dtype=object)),
                    "n_scenes": ("time", np.array([hh["n_scenes"] for hh in step_headers], dtype="int16")),
                    "epsg": grid.epsg})


def grid_x(grid: cube.Grid) -> np.ndarray:
    return grid.bounds[0] + grid.resolution * (np.arange(grid.shape[1]) + 0.5)


def grid_y(grid: cube.Grid) -> np.ndarray:
    return grid.bounds[3] - grid.resolution * (np.arange(grid.shape[0]) + 0.5)


def read_slots(url: str, storage_options: Mapping[str, Any], slots: tuple[int, ...], prints: tuple[str, ...],
               ys: tuple[int, int], xs: tuple[int, int]) -> np.ndarray:
    """`pixels` of those slots over rows `ys`, columns `xs`: float32 (time, band, y, x), NaN where
    nothing was stored. `prints`: the steps' fingerprints, only in the task's key."""
    arr = zarr.open_array(zarr_store(url, storage_options, read_only=True), path="pixels", mode="r",
                          zarr_format=2)
    v = arr.get_orthogonal_selection((list(slots), slice(None), slice(*ys), slice(*xs)))
    out = v.astype(np.float32)
    out[v == FILL] = np.nan
    return out


@dataclass
class Reading:
    """One ingest's reads from the catalogue into the store: all at once, or around bad scenes."""
    store: PixelStore
    license_no: str
    grid: cube.Grid
    assets: list[str]
    meta: dict
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
        # a few time chunks per append: their reads and compression overlap across the scheduler's
        # threads, only those chunks are in memory, and each append is committed on its own
        headers: dict[str, dict] = {}
        n = self.chunk_time * BATCH_CHUNKS
        for t0 in range(0, len(todo), n):
            headers.update(self.store._append(self.license_no, self.meta, todo[t0:t0 + n],
                                              raw.isel(time=slice(t0, t0 + n)), self.grid))
        return headers

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
