"""portraits in shared storage: stored_images, personas.image_digest; portrait files moved into the database

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _images_dir():
    """Where the files are: the settings the migration runs with (``medipersona.migrate``), else the env."""
    settings = context.config.attributes.get("settings")
    if settings is None:
        from medipersona.settings import Settings

        settings = Settings()
    return settings.images_dir


def upgrade() -> None:
    from medipersona.media.legacy_files import import_files

    op.create_table(
        "stored_images",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("mime", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=8), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", "variant", name=op.f("pk_stored_images")),
    )
    op.create_index(op.f("ix_stored_images_stored_at"), "stored_images", ["stored_at"], unique=False)
    with op.batch_alter_table("personas") as batch:
        batch.add_column(sa.Column("image_digest", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_personas_image_digest"), ["image_digest"], unique=False)
    import_files(op.get_bind(), _images_dir())
    with op.batch_alter_table("personas") as batch:
        batch.drop_column("image_path")


def downgrade() -> None:
    from medipersona.media.legacy_files import export_files

    with op.batch_alter_table("personas") as batch:
        batch.add_column(sa.Column("image_path", sa.String(length=255), nullable=True))
    export_files(op.get_bind(), _images_dir())
    with op.batch_alter_table("personas") as batch:
        batch.drop_index(batch.f("ix_personas_image_digest"))
        batch.drop_column("image_digest")
    op.drop_index(op.f("ix_stored_images_stored_at"), table_name="stored_images")
    op.drop_table("stored_images")
