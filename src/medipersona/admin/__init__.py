"""Admin settings kept in the database (shared by every worker): section lengths, models per task,
extra prompt instructions; and usage per user and day."""
