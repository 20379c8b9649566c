"""Personas: the generation pipeline's inputs, auto-fill, prompt, stored results and history."""
