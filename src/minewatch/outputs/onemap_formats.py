"""The one-map package in the formats the platform ingests, all from one layer definition.

`onemap.DICTIONARY` gives every format its layers, fields and types; `onemap.layer_frames`
gives the rows. `write_package` writes what ``onemap.formats`` asks for into the run folder:

- ``gpkg``: ``onemap.gpkg`` (`onemap.write_onemap`, with the metadata record);
- ``filegdb``: ``onemap.gdb``, GDAL's OpenFileGDB driver. Dates are the File Geodatabase's
  classic Date type (esriFieldTypeDate: a date-time, written at 00:00), which every ArcGIS
  and GDAL ≥ 3.6 reads; ``onemap.filegdb_target: pro3.2`` writes the date-only type instead,
  which needs ArcGIS Pro 3.2 and GDAL 3.8 to read.
- ``shapefile``: ``shapefile/<layer>.shp`` (UTF-8, with a ``.cpg``), field names from
  `Field.shp_name` (10 characters, never GDAL's laundering). A DBF text field holds 254
  bytes, so the long text fields (`Field.detail`: the JSON of what was observed and expected,
  the scene list, 拐点坐标) are not in the .shp but in ``<layer>_detail.dbf``, a DBF-only
  table keyed by BSM: one row per (BSM, field, part) with the value cut into ≤ 254-byte
  pieces on character boundaries; joined in PART order they give the value back whole. Any
  other text value over 254 bytes is kept there the same way, and the .shp holds its first piece.
  BOOLEAN fields are 0/1 integers, as in the File Geodatabase (GDAL 3.6 reads a DBF logical as text).

With ``onemap.gk_layers`` every format also gets the ``<layer>_gk`` layers (onemap_gk).
All three formats' bytes depend only on the inputs: the DBF header's date is the run date,
and the File Geodatabase's item GUIDs come from GDAL's reproducible counter.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from minewatch.config import OnemapSettings
from minewatch.outputs.onemap import (
    LAYERS,
    data_dictionary_frame,
    gdal_config,
    layer_fields,
    layer_frames,
    write_onemap,
)
from minewatch.outputs.onemap_gk import GK_SUFFIX, night_zone_epsg, project_layers
from minewatch.outputs.onemap_meta import PackageInfo
from minewatch.promised.models import AnnualPlan, MiningRight

__all__ = ["DBF_TEXT_BYTES", "DETAIL_SUFFIX", "shapefile_tables", "split_utf8", "write_filegdb", "write_package",
           "write_shapefiles"]

DBF_TEXT_BYTES = 254
DETAIL_SUFFIX = "_detail"
_DETAIL_COLUMNS = ["BSM", "FIELD", "PART", "TEXT"]


def split_utf8(text: str, limit: int = DBF_TEXT_BYTES) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, never splitting a character."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    pieces.append("".join(current))
    return pieces


def _base(layer: str) -> str:
    return layer.removesuffix(GK_SUFFIX)


def shapefile_tables(layer: str, df: gpd.GeoDataFrame,
                     include_personal: bool = False) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The .shp's frame (short names, detail fields left out, long values' first piece) and the
    detail rows (BSM, FIELD = the field's shapefile name, PART from 1, TEXT)."""
    fields = layer_fields(_base(layer), include_personal)
    detail: list[tuple[int, str, int, str]] = []
    main = df.copy()
    for f in fields:
        if f.type == "BOOLEAN":     # 0/1 numbers: older readers take a DBF logical (T/F) for text
            main[f.name] = main[f.name].astype("Int32")
        if f.type != "TEXT":
            continue
        cut = []
        for bsm_value, v in zip(df["BSM"], df[f.name]):
            if v is pd.NA or v is None or (not f.detail and len(v.encode("utf-8")) <= DBF_TEXT_BYTES):
                cut.append(v)
                continue
            parts = split_utf8(v)
            detail += [(int(bsm_value), f.shp_name, i, p) for i, p in enumerate(parts, 1)]
            cut.append(parts[0])
        main[f.name] = pd.array(cut, dtype="string")
    main = main.drop(columns=[f.name for f in fields if f.detail])
    main = main.rename(columns={f.name: f.shp_name for f in fields})
    rows = pd.DataFrame(detail, columns=_DETAIL_COLUMNS)
    return main, rows.astype({"BSM": "Int32", "FIELD": "string", "PART": "Int32", "TEXT": "string"})


def _dbf_options(run_date: date | None) -> dict[str, str]:
    # the DBF header carries a "last update" date: the run date, not today, so reruns match
    return {"ENCODING": "UTF-8", "DBF_DATE_LAST_UPDATE": (run_date or date(1970, 1, 1)).isoformat()}


def write_shapefiles(directory: str | Path, frames: dict[str, gpd.GeoDataFrame], *, run_date: date | None = None,
                     include_personal: bool = False) -> list[Path]:
    """One .shp set per layer of `frames` (4490 and `_gk` alike), one `<layer>_detail.dbf` per
    base layer, and `data_dictionary.dbf`; written in a temp folder beside, then renamed file
    by file (the night's staging folder makes the set atomic as a whole)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    opts = _dbf_options(run_date)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".shapefile.") as tmpdir:
        tmp = Path(tmpdir)
        for name, df in frames.items():
            main, detail = shapefile_tables(name, df, include_personal)
            pyogrio.write_dataframe(main, tmp / f"{name}.shp", driver="ESRI Shapefile", geometry_type="MultiPolygon",
                                    promote_to_multi=True, use_arrow=True, **opts)
            out.append(directory / f"{name}.shp")
            if not name.endswith(GK_SUFFIX):       # details are the same for the projected layers
                pyogrio.write_dataframe(detail, tmp / f"{name}{DETAIL_SUFFIX}.dbf", driver="ESRI Shapefile", **opts)
        pyogrio.write_dataframe(data_dictionary_frame().rename(columns={"shapefile_field": "shp_field",
                                                                        "confidential": "confident"}),
                                tmp / "data_dictionary.dbf", driver="ESRI Shapefile", **opts)
        for part in sorted(tmp.iterdir()):
            os.replace(part, directory / part.name)
    return out


def _datetimes(layer: str, df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Date columns as midnight date-times: the File Geodatabase's classic Date type."""
    out = df.copy()
    for f in layer_fields(_base(layer), include_personal=True):
        if f.type == "DATE" and f.name in out.columns:
            out[f.name] = pd.to_datetime(out[f.name].astype("string")).astype("datetime64[ms]")
    return out


def write_filegdb(path: str | Path, frames: dict[str, gpd.GeoDataFrame], target: str = "arcgis10") -> Path:
    """`onemap.gdb` with one feature class per layer of `frames` and the data_dictionary table;
    built under a temp name beside it, then renamed into place. `target`: `onemap.filegdb_target`."""
    pro = target == "pro3.2"
    opts = {"TARGET_ARCGIS_VERSION": "ARCGIS_PRO_3_2_OR_LATER"} if pro else {}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.pid{os.getpid()}.tmp.gdb"     # the driver wants the .gdb ending
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        # GDAL's item GUIDs from a counter instead of at random: the same layers give the same bytes
        with gdal_config({"OPENFILEGDB_REPRODUCIBLE_UUID": "YES"}):
            for name, df in frames.items():
                pyogrio.write_dataframe(df if pro else _datetimes(name, df), tmp, layer=name, driver="OpenFileGDB",
                                        geometry_type="MultiPolygon", promote_to_multi=True, use_arrow=True, **opts)
            # int32: the classic File Geodatabase has no 64-bit integer
            pyogrio.write_dataframe(data_dictionary_frame().astype({"confidential": "int32"}), tmp,
                                    layer="data_dictionary", driver="OpenFileGDB", **opts)
        old = path.parent / f".{path.name}.pid{os.getpid()}.old"
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def write_package(run_dir: str | Path, anomalies_fc: dict, rights: list[MiningRight], plans: dict[str, AnnualPlan],
                  unit_status: pd.DataFrame | None, settings: OnemapSettings, *, run_date: date | None = None,
                  info: PackageInfo | None = None, include_personal: bool = False,
                  county_names: dict[str, str] | None = None, previous: Path | None = None,
                  previous_run_date: date | None = None,
                  unit_ledger: Mapping[tuple[str, int, str, int], dict] | None = None,
                  tables: Mapping[str, pd.DataFrame] | None = None) -> list[Path]:
    """Every format `settings.formats` names, into `run_dir`; the `_gk` layers with `gk_layers`;
    `previous`: the previous night's onemap.gpkg, for the GeoPackage's changes table.
    `unit_ledger` (the ledger's restoration_units fields) goes into every format; `tables`
    (unit_history) only into the GeoPackage."""
    run_dir = Path(run_dir)
    gk = night_zone_epsg(rights, settings.gk_epsg) if settings.gk_layers else None
    info = replace(info or PackageInfo(responsible_party=settings.responsible_party), gk_epsg=gk)
    out: list[Path] = []
    if "gpkg" in settings.formats:
        out.append(write_onemap(run_dir / "onemap.gpkg", anomalies_fc, rights, plans, unit_status, run_date=run_date,
                                include_personal=include_personal, county_names=county_names, gk_epsg=gk, info=info,
                                previous=previous, previous_run_date=previous_run_date,
                                unit_ledger=unit_ledger, tables=tables))
    if not {"filegdb", "shapefile"} & set(settings.formats):
        return out
    frames = layer_frames(anomalies_fc, rights, plans, unit_status, include_personal, county_names, unit_ledger)
    layers = {name: frames[name] for name in LAYERS} | (project_layers(frames, gk) if gk is not None else {})
    if "filegdb" in settings.formats:
        out.append(write_filegdb(run_dir / "onemap.gdb", layers, settings.filegdb_target))
    if "shapefile" in settings.formats:
        out += write_shapefiles(run_dir / "shapefile", layers, run_date=run_date, include_personal=include_personal)
    return out
