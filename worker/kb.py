"""Knowledge syncs as the CLI and the Celery `knowledge` queue run them: settings → source → index.

A source is named "zendesk", "freshdesk" or a path (a folder or file of articles). Approval rules
come from `<CONFIG_DIR>/knowledge.yaml` (see `knowledge.approval`).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from knowledge.approval import load_allowlists
from knowledge.index import KnowledgeIndex, Progress, SyncStats
from worker.settings import Settings

VENDOR_SOURCES = ("zendesk", "freshdesk")


@lru_cache(maxsize=1)
def worker_index() -> KnowledgeIndex:
    """The knowledge worker's index: built (and the model loaded) once per process."""
    from worker.settings import get_settings
    from worker.wiring import build_index

    return build_index(get_settings())


def allowlists(s: Settings):
    """The allowlists of every source from `<CONFIG_DIR>/knowledge.yaml` (ValueError naming file and line)."""
    return load_allowlists(Path(s.config_dir) / "knowledge.yaml")


def sync_sources(s: Settings) -> list[str]:
    """The sources `KB_SYNC_SOURCES` names, in order (empty entries dropped)."""
    return [item.strip() for item in s.kb_sync_sources.split(",") if item.strip()]


def run_sync(
    s: Settings,
    source: str,
    *,
    index: KnowledgeIndex | None = None,
    full: bool = False,
    progress: Progress | None = None,
    allow_empty: bool = False,
) -> SyncStats:
    """Sync one source into the index (built from `s` unless given).

    Raises ValueError for an unknown source or a bad allowlist, FileNotFoundError for a missing
    path, and the loaders' Transient/PermanentHelpdeskError for vendor API failures.
    """
    from knowledge import sync
    from worker.wiring import build_index

    rules = allowlists(s)
    index = index or build_index(s)
    if source == "zendesk":
        from knowledge.zendesk_hc import ZendeskHelpCenter

        client = ZendeskHelpCenter(
            subdomain=s.zendesk_subdomain,
            email=s.zendesk_email,
            api_token=s.zendesk_api_token,
            api_url=s.zendesk_api_url,
            timeout_s=s.http_timeout_s,
        )
        return sync.sync_zendesk(index, client, rules["zendesk"], full=full, progress=progress)
    if source == "freshdesk":
        from knowledge.freshdesk_solutions import FreshdeskSolutions

        client = FreshdeskSolutions(
            domain=s.freshdesk_domain, api_key=s.freshdesk_api_key, api_url=s.freshdesk_api_url, timeout_s=s.http_timeout_s
        )
        return sync.sync_freshdesk(index, client, rules["freshdesk"], progress=progress)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{source}: not zendesk, freshdesk or an existing file or folder")
    return sync.sync_folder(index, path, rules["folder"], progress=progress, allow_empty=allow_empty)
