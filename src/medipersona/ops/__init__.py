"""Operations: health, metrics, logging, gunicorn config, the worker advisor and the monitoring page."""
