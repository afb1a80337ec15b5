"""`deskhand eval`: the pipeline over labelled real tickets, without posting anything.

The taxonomy is built from the data itself: at most `examples_per_category` messages per label, drawn
with a fixed seed, become the category examples; every other ticket is evaluated. Figures: category
accuracy, abstention, share drafted (per role), draft length, citations, ms per ticket.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
import statistics
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from integrations.base import Message, Ticket
from worker.config import CategoryConfig, Config, RoutingConfig, TriageConfig
from worker.drafting import word_count
from worker.models import UNKNOWN
from worker.pipeline import Pipeline, analyze
from worker.settings import Settings

_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def ticket_from_text(ticket_id: int, text: str, subject: str = "") -> Ticket:
    """A one-message ticket from the requester (for eval and the triage preview)."""
    msg = Message(id=f"m-{ticket_id}", author_id="requester", author_role="requester", body=text, public=True, created_at=_EPOCH)
    return Ticket(id=ticket_id, subject=subject, requester_id="requester", status="open", messages=(msg,))


def read_rows(path: Path) -> list[dict]:
    """Rows of a CSV (header required) or JSONL file."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not valid JSON: {exc}") from exc
    return rows


def split_examples(rows: list[dict], text_field: str, label_field: str, k: int, seed: int) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """({label: ≤k example texts}, [(text, label) held out]) with a seeded draw per label."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.get(text_field) and row.get(label_field):
            by_label[str(row[label_field])].append(str(row[text_field]))
    rng = random.Random(seed)
    examples, held_out = {}, []
    for label in sorted(by_label):
        texts = by_label[label]
        picked = set(rng.sample(range(len(texts)), min(k, len(texts))))
        examples[label] = [texts[i] for i in sorted(picked)]
        held_out += [(t, label) for i, t in enumerate(texts) if i not in picked]
    return examples, held_out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_eval(
    tickets_path: Path,
    kb_path: Path,
    *,
    text_field: str,
    label_field: str,
    examples_per_category: int,
    seed: int,
    roles: dict[str, str],
    limit: int,
    work_dir: Path,
    settings: Settings,
    echo: Callable[[str], None] = print,
) -> dict:
    """Evaluate and return the figures (also echoed as a human summary)."""
    from knowledge.embeddings import get_embedder
    from knowledge.index import KnowledgeIndex
    from knowledge.sources import load_path
    from worker.triage import Taxonomy

    rows = read_rows(tickets_path)
    examples, held_out = split_examples(rows, text_field, label_field, examples_per_category, seed)
    if not examples:
        raise ValueError(f"{tickets_path}: no rows with both '{text_field}' and '{label_field}'")
    triage_cfg = TriageConfig(
        categories={
            label.lower(): CategoryConfig(label=label, role=roles.get(label, "draft"), examples=texts)
            for label, texts in examples.items()
        }
    )
    config = Config(triage=triage_cfg, routing=RoutingConfig(), triage_path=tickets_path, routing_path=tickets_path)
    embedder = get_embedder(settings.embedding_model)
    collection = "eval_" + hashlib.sha256(str(kb_path.resolve()).encode()).hexdigest()[:12]
    index = KnowledgeIndex(path=work_dir / "chroma", collection=collection, embedder=embedder)
    articles = load_path(kb_path)
    stats = index.sync(articles)
    echo(f"knowledge base: {len(articles)} articles from {kb_path} ({stats.chunks_embedded} chunks embedded)")
    p = Pipeline(
        helpdesk=None,
        config=config,
        taxonomy=Taxonomy.build(triage_cfg, embedder),
        index=index,
        embedder=embedder,
        top_k=settings.top_k,
        min_score=settings.min_passage_score,
        max_words=settings.max_words,
    )
    random.Random(seed).shuffle(held_out)
    if limit:
        held_out = held_out[:limit]
    echo(f"taxonomy: {len(examples)} categories × ≤{examples_per_category} examples (seed {seed}); evaluating {len(held_out)} tickets")

    correct = abstained = 0
    ms: list[float] = []
    words: list[int] = []
    with_citation = 0
    per_role: dict[str, list[bool]] = defaultdict(list)
    confusion: Counter = Counter()
    for i, (text, label) in enumerate(held_out):
        ticket = ticket_from_text(i + 1, text)
        start = time.perf_counter()
        a = analyze(ticket, ticket.messages[0], p)
        ms.append((time.perf_counter() - start) * 1000)
        predicted = a.triage.category
        correct += predicted == label.lower()
        abstained += predicted == UNKNOWN
        if predicted != label.lower():
            confusion[(label.lower(), predicted)] += 1
        per_role[a.triage.role].append(a.draft.has_draft)
        if a.draft.has_draft:
            words.append(word_count(a.draft.body))
            with_citation += bool(a.draft.citations)
    n = len(held_out)
    drafted = sum(len([d for d in v if d]) for v in per_role.values())
    figures = {
        "tickets": n,
        "categories": len(examples),
        "category_accuracy": round(correct / n, 4) if n else 0.0,
        "abstained_share": round(abstained / n, 4) if n else 0.0,
        "draft_share": round(drafted / n, 4) if n else 0.0,
        "draft_share_by_role": {r: round(sum(v) / len(v), 4) for r, v in sorted(per_role.items())},
        "median_draft_words": statistics.median(words) if words else 0,
        "p95_draft_words": _pct(words, 0.95),
        "drafts_with_citation_share": round(with_citation / len(words), 4) if words else 0.0,
        "ms_per_ticket_median": round(statistics.median(ms), 1) if ms else 0.0,
        "ms_per_ticket_p95": round(_pct(ms, 0.95), 1),
    }
    echo("most frequent confusions (gold → predicted): " + ", ".join(f"{g}→{pr} {c}" for (g, pr), c in confusion.most_common(5)))
    for key, value in figures.items():
        echo(f"  {key}: {value}")
    return figures
