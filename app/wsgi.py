"""WSGI entry point for production servers: `gunicorn -w 2 app.wsgi:app` (settings from SENTINEL_* variables)."""

from app import create_app

app = create_app()
