"""The ``modelsync`` command and the front end's ``sync-models`` / ``model-sync-status``."""

from modelsync.cli.app import app, main, model_sync_status_main, sync_models_main

__all__ = ["app", "main", "model_sync_status_main", "sync_models_main"]
