"""gunicorn settings (operations work completes this with the seed's formula, metrics hooks, ...)."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
timeout = 300
graceful_timeout = 120
max_requests = 1000
max_requests_jitter = 100
