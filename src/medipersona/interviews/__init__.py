"""Interviews (インタビュー): questions to a persona, answered in character over SSE, saved and exportable."""
