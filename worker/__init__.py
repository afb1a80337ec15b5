"""The Deskhand service: settings, intake, Celery tasks, the pipeline and its stages, store, CLI."""

PIPELINE_VERSION = "0.1.0"
