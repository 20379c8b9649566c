"""keyword datasets and rows (keyword-data work)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

AGE_COLUMNS = ("age_10s", "age_20s", "age_30s", "age_40s", "age_50s", "age_60s", "age_70plus")


def upgrade() -> None:
    op.create_table(
        "keyword_datasets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("chief_complaint_id", sa.String(length=128), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keyword_datasets")),
        sa.UniqueConstraint("scope", name=op.f("uq_keyword_datasets_scope")),
    )
    with op.batch_alter_table("keyword_datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_keyword_datasets_department_id"), ["department_id"], unique=False)

    op.create_table(
        "keyword_rows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("keyword", sa.String(length=300), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("overlap", sa.Integer(), nullable=False),
        sa.Column("lift", sa.Float(), nullable=False),
        sa.Column("days", sa.Float(), nullable=False),
        sa.Column("male", sa.Float(), nullable=False),
        sa.Column("female", sa.Float(), nullable=False),
        *[sa.Column(name, sa.Float(), nullable=False) for name in AGE_COLUMNS],
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["keyword_datasets.id"],
                                name=op.f("fk_keyword_rows_dataset_id_keyword_datasets"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keyword_rows")),
    )
    with op.batch_alter_table("keyword_rows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_keyword_rows_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "keyword_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keyword_state")),
    )
    op.bulk_insert(sa.table("keyword_state", sa.column("id", sa.Integer), sa.column("version", sa.Integer),
                            sa.column("token", sa.String)), [{"id": 1, "version": 0, "token": ""}])


def downgrade() -> None:
    op.drop_table("keyword_state")
    with op.batch_alter_table("keyword_rows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_keyword_rows_dataset_id"))
    op.drop_table("keyword_rows")
    with op.batch_alter_table("keyword_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_keyword_datasets_department_id"))
    op.drop_table("keyword_datasets")
