from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AdminSettingsUpdate(BaseModel):
    """A partial update: only the keys given change."""

    model_config = ConfigDict(extra="forbid")
    section_lengths: dict[str, int] | None = None
    models: dict[str, str] | None = None
    providers: dict[str, str] | None = Field(None, description="Provider per task ('' = the environment's; "
                                              "'none' turns the portrait off).")
    fallbacks: dict[str, str] | None = Field(None, description="Fallback provider per kind (text, image).")
    prompt_addenda: dict[str, str] | None = Field(None, description="Extra instructions per task.")
    limits: dict[str, int] | None = Field(None, description="Daily limits per user (0 = none).")
