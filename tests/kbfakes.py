"""A fast, deterministic stand-in for the embedding model, for knowledge tests about bookkeeping
(sync counts, cursors, scoping, freshness), not about meaning."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np


class HashEmbedder:
    """Bag of words hashed into `dimension` buckets, L2-normalised: texts sharing words are close.

    Records every text it embeds in `texts`, so tests can assert what was (not) re-embedded.
    """

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings")
        self.texts.extend(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big") % self.dimension
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
