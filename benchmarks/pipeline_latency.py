"""CPU and wall milliseconds per ticket through triage + retrieval + draft + render (no helpdesk I/O).

Index: the GNOME Help corpus (317 articles). Tickets: Bitext customer messages. Taxonomy: config/triage.yaml.
Prints a table, then one JSON object of figures as the last line. Never asserts a timing.

    .venv/bin/python benchmarks/pipeline_latency.py [--data ../shared/data] [--tickets 300]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.embeddings import get_embedder  # noqa: E402
from knowledge.index import KnowledgeIndex  # noqa: E402
from knowledge.sources import load_path  # noqa: E402
from worker.config import load_config  # noqa: E402
from worker.evaluate import read_rows, ticket_from_text  # noqa: E402
from worker.pipeline import Pipeline, analyze  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.triage import Taxonomy  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--tickets", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    settings = Settings()
    embedder = get_embedder(settings.embedding_model)
    index = KnowledgeIndex(path=args.work_dir / "chroma", collection="gnome_help", embedder=embedder)
    articles = load_path(args.data / "gnome_help_kb" / "articles.jsonl")
    stats = index.sync(articles)
    print(f"index: {len(articles)} articles, {index.count()} chunks ({stats.chunks_embedded} embedded now, {stats.seconds:.1f} s)")

    config = load_config(ROOT / "config")
    p = Pipeline(
        helpdesk=None,
        config=config,
        taxonomy=Taxonomy.build(config.triage, embedder),
        index=index,
        embedder=embedder,
        top_k=settings.top_k,
        min_score=settings.min_passage_score,
        max_words=settings.max_words,
    )
    rows = read_rows(args.data / "bitext_customer_support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv")
    texts = [r["instruction"] for r in rows if r.get("instruction")]
    random.Random(args.seed).shuffle(texts)
    texts = texts[: args.warmup + args.tickets]

    cpu_ms, wall_ms, stages, drafted = [], [], {}, 0
    full_cpu_ms: list[float] = []  # tickets whose path ran retrieval (escalate_only and unknown skip it)
    for i, text in enumerate(texts):
        ticket = ticket_from_text(i + 1, text)
        timings: dict[str, float] = {}
        c0, w0 = time.process_time(), time.perf_counter()
        a = analyze(ticket, ticket.messages[0], p, timings)
        c1, w1 = time.process_time(), time.perf_counter()
        if i < args.warmup:
            continue
        cpu_ms.append((c1 - c0) * 1000)
        wall_ms.append((w1 - w0) * 1000)
        drafted += a.draft.has_draft
        if a.triage.role != "escalate_only":
            full_cpu_ms.append((c1 - c0) * 1000)
        for stage, secs in timings.items():
            stages.setdefault(stage, []).append(secs * 1000)

    print(f"{len(cpu_ms)} tickets after {args.warmup} warm-up; torch threads as configured")
    print(f"{'stage':<10} {'median ms':>10} {'p95 ms':>8}")
    for stage, values in stages.items():
        print(f"{stage:<10} {statistics.median(values):>10.2f} {pct(values, 0.95):>8.2f}")
    figures = {
        "tickets": len(cpu_ms),
        "articles": len(articles),
        "chunks": index.count(),
        "cpu_ms_median": round(statistics.median(cpu_ms), 2),
        "cpu_ms_p95": round(pct(cpu_ms, 0.95), 2),
        "wall_ms_median": round(statistics.median(wall_ms), 2),
        "wall_ms_p95": round(pct(wall_ms, 0.95), 2),
        "stage_wall_ms_median": {s: round(statistics.median(v), 2) for s, v in stages.items()},
        "full_path_share": round(len(full_cpu_ms) / len(cpu_ms), 3),
        "full_path_cpu_ms_median": round(statistics.median(full_cpu_ms), 2) if full_cpu_ms else None,
        "full_path_cpu_ms_p95": round(pct(full_cpu_ms, 0.95), 2) if full_cpu_ms else None,
        "draft_share": round(drafted / len(cpu_ms), 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
