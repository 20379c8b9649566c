"""persona tags, the profile's gender/age as columns (history search and filters), sections out of date

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 500


def _index(profile) -> tuple[str, int | None]:
    """Mirrors personas.models.profile_index (a migration must not import models that may change later)."""
    if isinstance(profile, str):
        try:
            profile = json.loads(profile)
        except ValueError:
            profile = {}
    profile = profile if isinstance(profile, dict) else {}
    gender = str(profile.get("gender") or "")[:16]
    try:
        age = int(profile["age"]) if profile.get("age") not in (None, "") else None
    except (TypeError, ValueError):
        age = None
    return gender, age


def upgrade() -> None:
    with op.batch_alter_table("personas") as batch:
        batch.add_column(sa.Column("tags", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("gender", sa.String(length=16), server_default="", nullable=False))
        batch.add_column(sa.Column("age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("stale_sections", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch.create_index(batch.f("ix_personas_gender"), ["gender"], unique=False)
        batch.create_index(batch.f("ix_personas_age"), ["age"], unique=False)
    conn = op.get_bind()
    personas = sa.table("personas", sa.column("id", sa.String), sa.column("profile", sa.JSON),
                        sa.column("gender", sa.String), sa.column("age", sa.Integer))
    last_id = ""
    while True:
        rows = conn.execute(sa.select(personas.c.id, personas.c.profile).where(personas.c.id > last_id)
                            .order_by(personas.c.id).limit(BATCH)).all()
        if not rows:
            break
        for persona_id, profile in rows:
            gender, age = _index(profile)
            if gender or age is not None:
                conn.execute(personas.update().where(personas.c.id == persona_id).values(gender=gender, age=age))
        last_id = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("personas") as batch:
        batch.drop_index(batch.f("ix_personas_age"))
        batch.drop_index(batch.f("ix_personas_gender"))
        batch.drop_column("stale_sections")
        batch.drop_column("age")
        batch.drop_column("gender")
        batch.drop_column("tags")
