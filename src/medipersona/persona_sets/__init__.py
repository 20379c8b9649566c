"""Persona sets (ペルソナセット): several ordinary personas for one chief complaint, generated at once and varied by
patient type, age or gender, shown side by side and exported as one document."""
