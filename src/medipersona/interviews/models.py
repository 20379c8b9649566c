"""Stored interviews: one conversation with one persona, its messages in order."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medipersona.db import Base, UTCDateTime, utcnow


def new_interview_id() -> str:
    return uuid.uuid4().hex


class Interview(Base):
    __tablename__ = "interviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_interview_id)
    persona_id: Mapped[str] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The first question, shortened (the interview's name in lists).
    title: Mapped[str] = mapped_column(String(200), default="")
    # idle | answering (an answer job runs: ``current_job_id``)
    status: Mapped[str] = mapped_column(String(16), default="idle")
    current_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # {"code", "message", "question"} when the last answer could not be written (the question was not kept).
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class InterviewMessage(Base):
    __tablename__ = "interview_messages"
    __table_args__ = (Index("ix_interview_messages_interview_id_id", "interview_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # user | persona
    text: Mapped[str] = mapped_column(Text)
    # Answers: {"provider", "model", "label", "is_offline"}; questions: {"job_id"}.
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
