"""keyword_packs: a dataset's rows as one packed value (keywords.pack); keyword_rows goes

Every lookup reads a dataset whole, so its ~1,000 rows are stored as one value: an import writes one value per
file instead of a row per keyword, a lookup reads one value by primary key. Existing rows are packed here (in
their insertion order), then the row table is dropped. The downgrade unpacks them again.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from medipersona.keywords.pack import ROW_FIELDS, decode, encode

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

AGE_COLUMNS = ("age_10s", "age_20s", "age_30s", "age_40s", "age_50s", "age_60s", "age_70plus")
_COLUMNS = ", ".join(f'"{name}"' for name in ROW_FIELDS)


def _packs_table() -> sa.TableClause:
    return sa.table("keyword_packs", sa.column("dataset_id", sa.Integer), sa.column("data", sa.LargeBinary))


def upgrade() -> None:
    op.create_table(
        "keyword_packs",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["keyword_datasets.id"],
                                name=op.f("fk_keyword_packs_dataset_id_keyword_datasets"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_keyword_packs")),
    )
    bind = op.get_bind()
    dataset_ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM keyword_datasets ORDER BY id"))]
    for dataset_id in dataset_ids:
        rows = [tuple(r) for r in bind.execute(
            sa.text(f"SELECT {_COLUMNS} FROM keyword_rows WHERE dataset_id = :id ORDER BY id"), {"id": dataset_id})]
        bind.execute(sa.insert(_packs_table()), [{"dataset_id": dataset_id, "data": encode(rows)}])
    with op.batch_alter_table("keyword_rows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_keyword_rows_dataset_id"))
    op.drop_table("keyword_rows")


def downgrade() -> None:
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
    rows_table = sa.table("keyword_rows", sa.column("dataset_id", sa.Integer),
                          *[sa.column(name) for name in ROW_FIELDS])
    bind = op.get_bind()
    for dataset_id, data in bind.execute(sa.text("SELECT dataset_id, data FROM keyword_packs ORDER BY dataset_id")):
        rows = decode(bytes(data)).rows()
        if rows:
            bind.execute(sa.insert(rows_table),
                         [{"dataset_id": dataset_id, **dict(zip(ROW_FIELDS, row, strict=True))} for row in rows])
    op.drop_table("keyword_packs")
