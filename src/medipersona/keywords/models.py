from medipersona.db import Base  # noqa: F401

# Keyword dataset models go here (keyword-data work).
