"""Pure test doubles for the pipeline's stages (no model, no network)."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

import numpy as np

from integrations.base import Message, Ticket
from knowledge.models import Passage

DIM = 256


class BagOfWordsEmbedder:
    """Deterministic hashed bag-of-words vectors, L2-normalised: texts sharing words are similar."""

    def embed(self, texts):
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


class ListIndex:
    """A KnowledgeIndex stand-in over fixed passages, scored with the same embedder."""

    def __init__(self, passages: list[Passage], embedder: BagOfWordsEmbedder):
        self.passages = passages
        self.embedder = embedder

    def count(self):
        return len(self.passages)

    def search(self, query=None, *, query_embedding=None, top_k=4, min_score=0.0, max_per_article=2, locale=None, mode=None):
        vecs = self.embedder.embed([p.text for p in self.passages])
        sims = vecs @ query_embedding
        ranked = sorted(zip(sims.tolist(), self.passages), key=lambda t: t[0], reverse=True)
        return [
            Passage(**{**p.__dict__, "score": float(s)}) for s, p in ranked if s >= min_score
        ][:top_k]

    def article_passages(self, article_id, query_embedding):
        mine = [p for p in self.passages if p.article_id == article_id]
        sims = self.embedder.embed([p.text for p in mine]) @ query_embedding if mine else []
        return [Passage(**{**p.__dict__, "score": float(s)}) for s, p in zip(sims, mine)]


T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def message(i: int, body: str, role: str = "requester", public: bool = True, html: str = "", author: str | None = None) -> Message:
    return Message(
        id=f"m{i}",
        author_id=author or ("u-1" if role == "requester" else "agent-7"),
        author_role=role,
        body=body,
        public=public,
        created_at=T0 + timedelta(minutes=i),
        html=html,
    )


def ticket(*messages: Message, subject: str = "", ticket_id: int = 42) -> Ticket:
    return Ticket(id=ticket_id, subject=subject, requester_id="u-1", status="open", messages=tuple(messages))
