"""Build the pipeline's dependencies from Settings, once per process. The only place that knows every part."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from integrations.base import Helpdesk
from worker.config import ConfigError, load_config
from worker.pipeline import Pipeline
from worker.settings import Settings, get_settings
from worker.store import Store
from worker.triage import Taxonomy, load_unlabeled


def build_helpdesk(s: Settings) -> Helpdesk:
    """The helpdesk client named by `HELPDESK` (local | zendesk | freshdesk)."""
    if s.helpdesk == "zendesk":
        from integrations.zendesk import ZendeskHelpdesk

        return ZendeskHelpdesk(
            subdomain=s.zendesk_subdomain,
            email=s.zendesk_email,
            api_token=s.zendesk_api_token,
            api_url=s.zendesk_api_url,
            timeout_s=s.http_timeout_s,
            bot_user_id=s.zendesk_bot_user_id,
        )
    if s.helpdesk == "freshdesk":
        from integrations.freshdesk import FreshdeskHelpdesk

        return FreshdeskHelpdesk(
            domain=s.freshdesk_domain,
            api_key=s.freshdesk_api_key,
            api_url=s.freshdesk_api_url,
            timeout_s=s.http_timeout_s,
            bot_agent_id=s.freshdesk_bot_agent_id,
            ratelimit_reserve=s.freshdesk_ratelimit_reserve,
        )
    from integrations.local import LocalHelpdesk

    return LocalHelpdesk(s.local_helpdesk_dir)


def build_index(s: Settings):
    """The Chroma-backed knowledge index: a Chroma server when CHROMA_HOST is set, else a
    PersistentClient under CHROMA_PATH."""
    from knowledge.embeddings import get_embedder
    from knowledge.index import KnowledgeIndex, chroma_client

    location = {"client": chroma_client(host=s.chroma_host, port=s.chroma_port)} if s.chroma_host else {"path": s.chroma_dir}
    return KnowledgeIndex(
        **location,
        collection=s.chroma_collection,
        embedder=get_embedder(s.embedding_model),
        mode=s.kb_retrieval,
        stale_after_days=s.kb_stale_after_days or None,
    )


def unlabeled_messages(s: Settings) -> tuple[str, ...]:
    """The past tickets TRIAGE_UNLABELED_PATH names (`worker.triage.load_unlabeled`); () when unset.
    Raises ConfigError naming the setting and the problem."""
    if not s.triage_unlabeled_path:
        return ()
    path = Path(s.triage_unlabeled_path)
    try:
        stat = path.stat()
    except OSError:
        stat = None  # load_unlabeled says what is wrong
    try:
        return _load_unlabeled(str(path), stat.st_mtime_ns if stat else 0, stat.st_size if stat else -1)
    except ValueError as exc:
        raise ConfigError(f"TRIAGE_UNLABELED_PATH: {exc}") from exc


@lru_cache(maxsize=2)
def _load_unlabeled(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    """`load_unlabeled`, once per version of the file in a process: `deskhand serve` checks the
    export at start and its worker then builds the pipeline from it (redaction is the slow part)."""
    return load_unlabeled(Path(path))


def build_pipeline(s: Settings, *, helpdesk: Helpdesk | None = None, with_store: bool = True) -> Pipeline:
    """Load config (ConfigError on bad YAML), the embedding model, the index and the store."""
    from knowledge.embeddings import get_embedder

    from worker.reload import ConfigWatcher

    config = load_config(s.config_dir)
    embedder = get_embedder(s.embedding_model)
    llm = build_llm(s)
    unlabeled = unlabeled_messages(s)
    return Pipeline(
        helpdesk=helpdesk if helpdesk is not None else build_helpdesk(s),
        config=config,
        taxonomy=Taxonomy.build(config.triage, embedder, cache_dir=s.data_dir / "triage", unlabeled=unlabeled),
        config_watcher=ConfigWatcher(config, cache_dir=s.data_dir / "triage", unlabeled=unlabeled),
        index=build_index(s),
        embedder=embedder,
        store=Store(s.db_url) if with_store else None,
        top_k=s.top_k,
        min_score=s.min_passage_score,
        max_words=s.max_words,
        match_language=s.kb_match_ticket_language,
        llm=llm,
        llm_triage=build_llm_triage(s, llm),
    )


def build_llm(s: Settings):
    """The LLM drafter `DESKHAND_LLM` names (LangChain init_chat_model), or None for the offline drafter only."""
    from worker.llm import LLMDrafter

    return LLMDrafter.from_settings(s)


def build_llm_triage(s: Settings, llm):
    """The LLM triager when DESKHAND_LLM_TRIAGE is on (the same model and budget as `llm`), else None."""
    from worker.llm_triage import LLMTriager

    return LLMTriager(llm) if llm is not None and s.deskhand_llm_triage else None


@lru_cache(maxsize=1)
def worker_pipeline() -> Pipeline:
    """The worker process's pipeline: the model loads once per process, not per ticket."""
    return build_pipeline(get_settings())
