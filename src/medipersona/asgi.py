"""ASGI entry point for servers: ``gunicorn medipersona.asgi:app -k medipersona.ops.worker.UvicornWorker``."""

from medipersona.app import create_app

app = create_app()
