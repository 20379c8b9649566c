"""competitor analyses

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "competitor_analyses",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_job_id", sa.String(length=32), nullable=True),
        sa.Column("clinic", sa.JSON(), nullable=False),
        sa.Column("radius_km", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("competitors", sa.JSON(), nullable=False),
        sa.Column("market", sa.JSON(), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("demand", sa.JSON(), nullable=False),
        sa.Column("swot", sa.JSON(), nullable=False),
        sa.Column("text_provider", sa.String(length=32), nullable=False),
        sa.Column("text_model", sa.String(length=128), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_competitor_analyses_owner_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competitor_analyses")),
    )
    with op.batch_alter_table("competitor_analyses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_competitor_analyses_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_competitor_analyses_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_competitor_analyses_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("competitor_analyses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competitor_analyses_status"))
        batch_op.drop_index(batch_op.f("ix_competitor_analyses_owner_id"))
        batch_op.drop_index(batch_op.f("ix_competitor_analyses_created_at"))
    op.drop_table("competitor_analyses")
