"""Stored personas. A persona row is written when generation is requested and filled as the job runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from medipersona.db import Base, UTCDateTime, table_of, utcnow
from medipersona.jobs.models import Job
from medipersona.media.service import register_reference


def new_persona_id() -> str:
    return uuid.uuid4().hex


class Persona(Base):
    __tablename__ = "personas"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_persona_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # queued | running | done | failed
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)

    # What was asked (catalog ids), kept as sent.
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    chief_complaint_id: Mapped[str] = mapped_column(String(128), index=True)
    purpose_id: Mapped[str] = mapped_column(String(64))
    setting_type: Mapped[str] = mapped_column(String(16))  # patient_type | input | auto
    patient_type_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seed: Mapped[int] = mapped_column(Integer)
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    # After auto-fill: profile {name, gender, age, age_months, prefecture, municipality, family, occupation,
    # income, hobby, life_events}, extras {motto, ...}, extra_fields [{name, value}].
    name: Mapped[str] = mapped_column(String(200), default="", index=True)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    extra_fields: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

    # Output: the six sections {personality, reason, behavior, reviews, values, demands}.
    sections: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    keywords_used: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Portrait: stored in shared storage (media.StoredImage, never a provider URL), named by its SHA-256.
    # pending | running | done | failed | none (the admin turned portraits off: 画像なし)
    image_status: Mapped[str] = mapped_column(String(16), default="pending")
    image_digest: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    image_mime: Mapped[str | None] = mapped_column(String(64), nullable=True)

    text_provider: Mapped[str] = mapped_column(String(32), default="")
    text_model: Mapped[str] = mapped_column(String(128), default="")
    image_provider: Mapped[str] = mapped_column(String(32), default="")
    image_model: Mapped[str] = mapped_column(String(128), default="")
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"code", "message"} when status == failed (or a part failed, e.g. the portrait).
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    # Timeline analysis (keyword-data issue): idle | queued | running | done | failed
    timeline_status: Mapped[str] = mapped_column(String(16), default="idle")
    timeline_analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # The user's tags, stored as "|tag1|tag2|" so one portable LIKE finds a tag (tags never contain "|"; see
    # tags_to_column). Read them with persona_tags().
    tags: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Copies of profile.gender and profile.age, kept in step by _index_profile, for the history's filters.
    gender: Mapped[str] = mapped_column(String(16), default="", server_default="", index=True)
    age: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # Sections written before the latest profile/extras change (the page marks them and offers 「すべて再生成」);
    # a section leaves the list when it is regenerated or edited.
    stale_sections: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    # The job whose events GET /api/personas/{id}/events streams (generation or a section regeneration).
    current_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    @validates("profile")
    def _index_profile(self, _key: str, profile: dict[str, Any] | None) -> dict[str, Any] | None:
        """Every assignment of a profile (creation, edits, generation) refreshes the filter columns."""
        self.gender, self.age = profile_index(profile)
        return profile


def profile_index(profile: dict[str, Any] | None) -> tuple[str, int | None]:
    """(gender, age) as the history filters store them."""
    profile = profile or {}
    gender = str(profile.get("gender") or "")[:16]
    raw_age = profile.get("age")
    try:
        age = int(raw_age) if raw_age is not None and raw_age != "" else None
    except (TypeError, ValueError):
        age = None
    return gender, age


TAG_SEPARATOR = "|"


def tags_to_column(tags: list[str]) -> str:
    return f"{TAG_SEPARATOR}{TAG_SEPARATOR.join(tags)}{TAG_SEPARATOR}" if tags else ""


def persona_tags(persona: Persona) -> list[str]:
    return [t for t in (persona.tags or "").split(TAG_SEPARATOR) if t]

register_reference(Persona.image_digest)

# A job's subject is a persona: its rows go with the persona. Declared here, by the domain that owns the subject,
# because jobs knows no domain (the constraint is migration 0003's ``fk_jobs_persona_id_personas``).
table_of(Job).append_constraint(
    ForeignKeyConstraint(["persona_id"], [table_of(Persona).c.id], ondelete="CASCADE")
)
