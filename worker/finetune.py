"""Contrastive fine-tuning of the sentence encoder on a taxonomy's own examples (SetFit-style).

Status: an experiment, not on the worker's path. `benchmarks/banking77_triage.py --finetune` measures
it: BANKING77 at 10 examples per intent, 5 seeded draws, 87.40% ± 0.27 against 86.68% ± 0.33 for the
shipped classifier, at ~110 s of fine-tuning per taxonomy (847 examples, 2 cores) and a second encoder
pass per ticket (27.6 ms median per query for both encoder passes and the classifier). Longer
training, larger batches or no frozen layers did not do better on a held-out split of the training
set. Wiring it into `worker.triage.Taxonomy` would mean a background build per taxonomy hash and
recalibrating the out-of-scope threshold, which is set on the base model's cosines.

Two examples of the same category are a positive pair; every other pair in the batch is a negative
(sentence-transformers' `MultipleNegativesRankingLoss`,
https://sbert.net/docs/package_reference/sentence_transformer/losses.html#multiplenegativesrankingloss).
Batches hold each category at most once, so no in-batch "negative" is secretly a positive. The word
embeddings and the bottom `frozen_layers` transformer layers are left as they are: fewer weights to
move with a handful of examples, and a cheaper backward pass on a CPU.

The loop is plain PyTorch over the library's loss (sentence-transformers' own trainer needs the
`datasets` and `accelerate` packages, which Deskhand does not otherwise use).
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True)
class FinetuneParams:
    epochs: int = 3  # passes over the (anchor, positive) pairs: one pair per example per pass
    learning_rate: float = 5e-5
    batch_size: int = 32  # pairs per step; each category at most once per batch
    frozen_layers: int = 2  # bottom transformer layers kept frozen (the word embeddings always are)
    max_steps: int = 400  # bounds the build time of a large taxonomy (~1 s a step on 2 quiet cores)
    scale: float = 20.0  # inverse temperature of the loss's cosine similarities
    seed: int = 0


def same_category_batches(
    texts: list[str], labels: list[str], batch_size: int, rng: random.Random
) -> list[list[tuple[str, str]]]:
    """One pass of training batches: each example once as an anchor, paired with another example of
    its category, shuffled; no category appears twice in a batch. Categories with a single example
    give no pair. Returns a list of batches, each a list of (anchor, positive) texts."""
    by_label: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        by_label.setdefault(label, []).append(text)
    pairs = []
    for label, members in by_label.items():
        for i, anchor in enumerate(members):
            others = members[:i] + members[i + 1 :]
            if others:
                pairs.append((anchor, rng.choice(others), label))
    rng.shuffle(pairs)
    batches = []
    while pairs:
        batch, rest, seen = [], [], set()
        for pair in pairs:
            if len(batch) < batch_size and pair[2] not in seen:
                batch.append(pair)
                seen.add(pair[2])
            else:
                rest.append(pair)
        batches.append([(a, p) for a, p, _ in batch])
        pairs = rest
    return batches


def finetune(
    base: "SentenceTransformer", texts: list[str], labels: list[str], params: FinetuneParams = FinetuneParams()
) -> "SentenceTransformer":
    """A copy of `base` fine-tuned so that examples of one category embed close together.

    `base` is not modified. Deterministic for a given seed on one machine (CPU). Raises ValueError
    when no category has two examples (nothing to pair).
    """
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    rng = random.Random(params.seed)
    torch.manual_seed(params.seed)
    plan: list[list[tuple[str, str]]] = []
    for _ in range(params.epochs):
        plan += same_category_batches(texts, labels, params.batch_size, rng)
    plan = [b for b in plan if len(b) > 1][: params.max_steps]  # a one-pair batch has no negative
    if not plan:
        raise ValueError("fine-tuning needs a category with at least two examples")

    model = copy.deepcopy(base)
    transformer = model[0].auto_model
    for module in [transformer.embeddings, *transformer.encoder.layer[: params.frozen_layers]]:
        for weight in module.parameters():
            weight.requires_grad = False
    trainable = [w for w in model.parameters() if w.requires_grad]
    loss_fn = MultipleNegativesRankingLoss(model, scale=params.scale)
    optimizer = torch.optim.AdamW(trainable, lr=params.learning_rate, weight_decay=0.01)
    warmup = max(1, len(plan) // 10)
    # linear warm-up over the first tenth of the steps, then linear decay to zero
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / len(plan))
    )
    model.train()
    for batch in plan:
        anchors = model.preprocess([a for a, _ in batch])
        positives = model.preprocess([p for _, p in batch])
        loss = loss_fn([anchors, positives], None)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
    model.eval()
    return model
