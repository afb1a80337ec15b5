"""Reload ops' YAML in a running worker: checked at the start of each job, last good version kept.

`ConfigWatcher.refresh(pipeline)` stats `triage.yaml` and `routing.yaml` (two `stat` calls, no
reading) and, when either changed, loads and validates both. A valid pair replaces the pipeline's
config and taxonomy (the classifier is refitted only when the categories or examples changed); an
invalid one is logged with its `file:line: field: problem` and the worker carries on with the last
good version, re-reporting only when the files change again.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from worker.config import Config, ConfigError, load_config
from worker.triage import Taxonomy

if TYPE_CHECKING:
    from worker.pipeline import Pipeline

log = structlog.get_logger(__name__)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class ConfigWatcher:
    """Watches the two files a Config came from."""

    def __init__(self, config: Config, *, cache_dir: Path | None = None, unlabeled: tuple[str, ...] = ()):
        self.paths = (config.triage_path, config.routing_path)
        self.cache_dir = cache_dir
        self.unlabeled = unlabeled  # what a refit self-trains on (see worker.triage.load_unlabeled)
        self._seen = self._stamps()
        self._lock = threading.Lock()

    def _stamps(self) -> tuple[tuple[int, int] | None, ...]:
        return tuple(_stamp(p) for p in self.paths)

    def refresh(self, p: "Pipeline") -> bool:
        """Swap in the files' new version if they changed and are valid; True when it did.

        Never raises for a bad file: the error is logged (`config_reload_failed`) and `p` keeps its
        config. An error while refitting the classifier is logged the same way.
        """
        with self._lock:
            stamps = self._stamps()
            if stamps == self._seen:
                return False
            self._seen = stamps
            config_dir = self.paths[0].parent
            try:
                config = load_config(config_dir)
                taxonomy = Taxonomy.build(config.triage, p.embedder, cache_dir=self.cache_dir, unlabeled=self.unlabeled)
            except ConfigError as exc:
                log.error("config_reload_failed", config_dir=str(config_dir), error=str(exc), kept="last good config")
                return False
            except Exception as exc:  # a model or disk failure while refitting: keep serving the old taxonomy
                log.error("config_reload_failed", config_dir=str(config_dir), error=type(exc).__name__, kept="last good config")
                return False
            refitted = taxonomy.key != p.taxonomy.key
            p.config, p.taxonomy = config, taxonomy
            log.info("config_reloaded", config_dir=str(config_dir), categories=len(config.triage.categories), refitted=refitted)
            return True
