"""persona sets, interviews, message tests

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persona_sets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("chief_complaint_id", sa.String(length=128), nullable=False),
        sa.Column("purpose_id", sa.String(length=64), nullable=False),
        sa.Column("vary", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("persona_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_persona_sets_owner_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persona_sets")),
    )
    with op.batch_alter_table("persona_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persona_sets_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_persona_sets_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "interviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("persona_id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_job_id", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_interviews_owner_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["persona_id"], ["personas.id"], name=op.f("fk_interviews_persona_id_personas"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
    )
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interviews_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_interviews_persona_id"), ["persona_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_interviews_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "interview_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("interview_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["interview_id"], ["interviews.id"],
                                name=op.f("fk_interview_messages_interview_id_interviews"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview_messages")),
    )
    with op.batch_alter_table("interview_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interview_messages_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_interview_messages_interview_id_id", ["interview_id", "id"], unique=False)

    op.create_table(
        "message_tests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_job_id", sa.String(length=32), nullable=True),
        sa.Column("set_id", sa.String(length=32), nullable=True),
        sa.Column("persona_ids", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("image_path", sa.String(length=255), nullable=True),
        sa.Column("image_mime", sa.String(length=64), nullable=True),
        sa.Column("model_calls", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("text_provider", sa.String(length=32), nullable=False),
        sa.Column("text_model", sa.String(length=128), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_message_tests_owner_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_tests")),
    )
    with op.batch_alter_table("message_tests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_tests_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_tests_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_tests_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message_tests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_tests_status"))
        batch_op.drop_index(batch_op.f("ix_message_tests_owner_id"))
        batch_op.drop_index(batch_op.f("ix_message_tests_created_at"))
    op.drop_table("message_tests")
    with op.batch_alter_table("interview_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_interview_messages_interview_id_id")
        batch_op.drop_index(batch_op.f("ix_interview_messages_created_at"))
    op.drop_table("interview_messages")
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interviews_updated_at"))
        batch_op.drop_index(batch_op.f("ix_interviews_persona_id"))
        batch_op.drop_index(batch_op.f("ix_interviews_owner_id"))
    op.drop_table("interviews")
    with op.batch_alter_table("persona_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persona_sets_owner_id"))
        batch_op.drop_index(batch_op.f("ix_persona_sets_created_at"))
    op.drop_table("persona_sets")
