"""The unit ledger: licences, plan filings, units, mentions, match, acceptance and season records.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "licences",
        sa.Column("license_no", sa.String(64), primary_key=True),
        sa.Column("next_unit_no", sa.Integer, nullable=False),
    )
    op.create_table(
        "plan_filings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("license_no", sa.String(64), sa.ForeignKey("licences.license_no"), nullable=False, index=True),
        sa.Column("plan_year", sa.Integer, nullable=False),
        sa.Column("file", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.UniqueConstraint("license_no", "plan_year", name="uq_filing_licence_year"),
    )
    op.create_table(
        "units",
        sa.Column("unit_id", sa.String(80), primary_key=True),
        sa.Column("license_no", sa.String(64), sa.ForeignKey("licences.license_no"), nullable=False, index=True),
        sa.Column("first_year", sa.Integer, nullable=False),
    )
    op.create_table(
        "mentions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("unit_id", sa.String(80), sa.ForeignKey("units.unit_id"), nullable=False, index=True),
        sa.Column("filing_id", sa.Integer, sa.ForeignKey("plan_filings.id"), nullable=False, index=True),
        sa.Column("plan_year", sa.Integer, nullable=False),
        sa.Column("section", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("land_class", sa.String(16), nullable=False),
        sa.Column("area_hm2", sa.Float, nullable=True),
        sa.Column("quality", sa.Text, nullable=False),
        sa.Column("is_temporary", sa.Boolean, nullable=False),
        sa.Column("accepted", sa.Boolean, nullable=True),
        sa.Column("problem_type", sa.String(64), nullable=False),
        sa.Column("damage_degree", sa.String(32), nullable=False),
        sa.Column("measures", sa.Text, nullable=False),
        sa.Column("corner_points", sa.Text, nullable=False),
        sa.Column("geometry", sa.LargeBinary, nullable=False),
        sa.Column("row", sa.Integer, nullable=True),
        sa.UniqueConstraint("filing_id", "section", "seq", name="uq_mention_row"),
    )
    op.create_table(
        "match_records",
        sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), primary_key=True),
        sa.Column("unit_id", sa.String(80), sa.ForeignKey("units.unit_id"), nullable=False, index=True),
        sa.Column("method", sa.String(24), nullable=False),
        sa.Column("iou", sa.Float, nullable=True),
        sa.Column("previous_year", sa.Integer, nullable=True),
        sa.Column("previous_section", sa.String(16), nullable=True),
        sa.Column("previous_seq", sa.Integer, nullable=True),
        sa.Column("candidates", sa.Text, nullable=False),
    )
    op.create_table(
        "acceptance_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("license_no", sa.String(64), nullable=False, index=True),
        sa.Column("unit_id", sa.String(80), sa.ForeignKey("units.unit_id"), nullable=True, index=True),
        sa.Column("unit_ref", sa.String(80), nullable=False),
        sa.Column("corner_points", sa.Text, nullable=False),
        sa.Column("applied_on", sa.Date, nullable=True),
        sa.Column("accepted_on", sa.Date, nullable=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("certificate_no", sa.String(80), nullable=False),
        sa.Column("area_hm2", sa.Float, nullable=True),
        sa.Column("file", sa.String(255), nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.UniqueConstraint("file", "row", name="uq_acceptance_row"),
    )
    op.create_table(
        "season_observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("unit_id", sa.String(80), sa.ForeignKey("units.unit_id"), nullable=False, index=True),
        sa.Column("season_year", sa.Integer, nullable=False),
        sa.Column("fvc", sa.Float, nullable=True),
        sa.Column("reference_fvc", sa.Float, nullable=True),
        sa.Column("clear_obs", sa.Integer, nullable=False),
        sa.Column("observed_to", sa.Date, nullable=True),
        sa.UniqueConstraint("unit_id", "season_year", name="uq_season_unit_year"),
    )


def downgrade() -> None:
    for table in ("season_observations", "acceptance_records", "match_records", "mentions", "units",
                  "plan_filings", "licences"):
        op.drop_table(table)
