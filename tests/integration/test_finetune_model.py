"""Contrastive fine-tuning with the real all-MiniLM-L6-v2 (CPU, a few seconds; no Redis needed)."""
import numpy as np
import pytest

from worker.finetune import FinetuneParams, finetune

pytestmark = pytest.mark.integration

EXAMPLES = {
    "card_arrival": ["my card has not arrived", "still waiting for my new card", "when will the card be delivered", "card not here yet"],
    "top_up": ["how do I add money", "top up failed", "can I top up with a bank transfer", "my top-up is pending"],
    "exchange_rate": ["what exchange rate do you use", "the rate was wrong", "why is the conversion rate so bad", "currency exchange fee"],
}


def separation(vectors: np.ndarray, labels: list[str]) -> float:
    """Mean cosine of same-category pairs minus mean cosine of cross-category pairs."""
    sims = vectors @ vectors.T
    same = np.equal.outer(labels, labels)
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    return float(sims[same & off_diagonal].mean() - sims[~same].mean())


def test_fine_tuning_pulls_categories_apart_and_leaves_the_base_model_alone():
    from knowledge.embeddings import get_embedder
    from worker.settings import Settings

    base = get_embedder(Settings().embedding_model).model
    texts = [t for ts in EXAMPLES.values() for t in ts]
    labels = [c for c, ts in EXAMPLES.items() for _ in ts]
    before = base.encode(texts, normalize_embeddings=True)

    tuned = finetune(base, texts, labels, FinetuneParams(epochs=8, learning_rate=1e-4))

    after = tuned.encode(texts, normalize_embeddings=True)
    assert separation(after, labels) > separation(before, labels)
    assert np.allclose(base.encode(texts, normalize_embeddings=True), before, atol=1e-5)  # a copy was trained
