from medipersona.db import Base  # noqa: F401

# Job and JobEvent models go here (generation-pipeline work).
