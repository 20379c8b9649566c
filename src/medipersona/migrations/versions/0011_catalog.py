"""catalog in the database: catalog_departments, catalog_complaints, catalog_state; seeded from catalog.json

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    departments = op.create_table(
        "catalog_departments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("section", sa.String(length=16), nullable=False),
        sa.Column("search_terms", sa.JSON(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_departments")),
        sa.UniqueConstraint("name_key", name=op.f("uq_catalog_departments_name_key")),
    )
    complaints = op.create_table(
        "catalog_complaints",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("sexes", sa.JSON(), nullable=False),
        sa.Column("age_min", sa.Integer(), nullable=False),
        sa.Column("age_max", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("pediatric", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_complaints")),
        sa.UniqueConstraint("department_id", "name_key", name="uq_catalog_complaints_department_name"),
    )
    with op.batch_alter_table("catalog_complaints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_complaints_department_id"), ["department_id"], unique=False)
    state = op.create_table(
        "catalog_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_state")),
    )
    # The seed: the bundled catalog.json, ids unchanged (every later migrate syncs attribute values:
    # medipersona.catalog.bundled.sync_bundled).
    from medipersona.catalog.bundled import seed_rows

    dep_rows, cc_rows = seed_rows()
    op.bulk_insert(departments, dep_rows)
    op.bulk_insert(complaints, cc_rows)
    op.bulk_insert(state, [{"id": 1, "version": 1, "token": "seed"}])


def downgrade() -> None:
    op.drop_table("catalog_state")
    with op.batch_alter_table("catalog_complaints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_complaints_department_id"))
    op.drop_table("catalog_complaints")
    op.drop_table("catalog_departments")
