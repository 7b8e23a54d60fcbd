"""The ledger's tables (SQLAlchemy 2 declarative): one definition for SQLite and PostgreSQL.

Geometries are stored as 2-D WKB in EPSG:4490 (CGCS2000 lon/lat), the bytes shapely writes:
portable between both backends, byte-identical on a rebuild, and readable with
``ST_GeomFromWKB(geometry, 4490)`` in PostGIS or SpatiaLite when a map needs them. Matching
runs in shapely, one mine at a time, so no database-side spatial function is needed.
Areas are hm² rounded to 4 decimals (floats: exact round trip on both backends).
Migrations live in ``migrations/versions``; a change here needs a new revision there
(tests/unit/ledger/test_db.py compares the two).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Licence", "PlanFiling", "LedgerUnit", "Mention", "MatchRecord", "AcceptanceRecord",
           "SeasonObservation"]


class Base(DeclarativeBase):
    pass


class Licence(Base):
    """A mining right the ledger has seen; holds the counter of its unit ids (never goes back)."""
    __tablename__ = "licences"
    license_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_unit_no: Mapped[int] = mapped_column(Integer, default=1)


class PlanFiling(Base):
    """One annual plan file as ingested: one per mining right and year."""
    __tablename__ = "plan_filings"
    __table_args__ = (UniqueConstraint("license_no", "plan_year", name="uq_filing_licence_year"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_no: Mapped[str] = mapped_column(ForeignKey("licences.license_no"), index=True)
    plan_year: Mapped[int] = mapped_column(Integer)
    file: Mapped[str] = mapped_column(String(255))          # file name, not path: a rebuild elsewhere is equal
    sha256: Mapped[str] = mapped_column(String(64))


class LedgerUnit(Base):
    """A restoration unit (修复单元) or damaged area: the ground, across plan years."""
    __tablename__ = "units"
    unit_id: Mapped[str] = mapped_column(String(80), primary_key=True)   # 标识码, never reused
    license_no: Mapped[str] = mapped_column(ForeignKey("licences.license_no"), index=True)
    first_year: Mapped[int] = mapped_column(Integer)


class Mention(Base):
    """A plan row that mentions a unit: what the plan of that year says about it."""
    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("filing_id", "section", "seq", name="uq_mention_row"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("plan_filings.id"), index=True)
    plan_year: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(16))         # restored | damage | planned
    seq: Mapped[int] = mapped_column(Integer)                # 序号
    land_class: Mapped[str] = mapped_column(String(16), default="")
    area_hm2: Mapped[float | None] = mapped_column(Float, nullable=True)
    quality: Mapped[str] = mapped_column(Text, default="")
    is_temporary: Mapped[bool] = mapped_column(Boolean, default=False)     # 是否为临时用地
    accepted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # 是否完成验收
    problem_type: Mapped[str] = mapped_column(String(64), default="")
    damage_degree: Mapped[str] = mapped_column(String(32), default="")
    measures: Mapped[str] = mapped_column(Text, default="")
    corner_points: Mapped[str] = mapped_column(Text, default="")
    geometry: Mapped[bytes] = mapped_column(LargeBinary)    # WKB, EPSG:4490
    row: Mapped[int | None] = mapped_column(Integer, nullable=True)        # sheet row


class MatchRecord(Base):
    """How a mention was tied to its unit, and what else it could have been."""
    __tablename__ = "match_records"
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    method: Mapped[str] = mapped_column(String(24))       # minewatch.ledger.matching.METHODS
    iou: Mapped[float | None] = mapped_column(Float, nullable=True)        # with the unit matched / best candidate
    previous_year: Mapped[int | None] = mapped_column(Integer, nullable=True)     # the mention matched
    previous_section: Mapped[str | None] = mapped_column(String(16), nullable=True)
    previous_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    candidates: Mapped[str] = mapped_column(Text, default="")   # other units it overlaps, comma-separated


class AcceptanceRecord(Base):
    """验收: one row of the county bureau's acceptance list."""
    __tablename__ = "acceptance_records"
    __table_args__ = (UniqueConstraint("file", "row", name="uq_acceptance_row"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_no: Mapped[str] = mapped_column(String(64), index=True)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.unit_id"), nullable=True, index=True)
    unit_ref: Mapped[str] = mapped_column(String(80), default="")
    corner_points: Mapped[str] = mapped_column(Text, default="")
    applied_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    accepted_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    result: Mapped[str] = mapped_column(String(16), default="")          # 合格 | 不合格
    certificate_no: Mapped[str] = mapped_column(String(80), default="")  # 验收合格确认书编号
    area_hm2: Mapped[float | None] = mapped_column(Float, nullable=True)
    file: Mapped[str] = mapped_column(String(255))
    row: Mapped[int] = mapped_column(Integer)


class SeasonObservation(Base):
    """What one season's imagery showed on a unit: one row per unit and season year."""
    __tablename__ = "season_observations"
    __table_args__ = (UniqueConstraint("unit_id", "season_year", name="uq_season_unit_year"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    season_year: Mapped[int] = mapped_column(Integer)
    fvc: Mapped[float | None] = mapped_column(Float, nullable=True)            # median over clear dates
    reference_fvc: Mapped[float | None] = mapped_column(Float, nullable=True)  # the reference ring's
    clear_obs: Mapped[int] = mapped_column(Integer, default=0)
    observed_to: Mapped[date | None] = mapped_column(Date, nullable=True)      # last clear date used
