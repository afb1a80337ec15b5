"""The WSGI entry point for gunicorn (the Procfile's `web`): logging configured, then the intake app."""
from worker.logs import configure_logging
from worker.settings import get_settings
from worker.web import create_app

configure_logging(get_settings().log_level, get_settings().log_json)
app = create_app()
