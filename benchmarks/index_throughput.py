"""Index throughput on the GNOME Help corpus, against the embedding model's raw throughput, and re-sync cost.

1. Chunk the corpus with the product's chunking and time the bare model on those chunk texts
   (`Embedder.embed`, one call: the model's best case).
2. Sync the corpus into an empty index (`KnowledgeIndex.sync`: chunking, fingerprints, title
   vectors, embedding, Chroma writes) and report chunks/s and that as a fraction of raw.
   Steps 1 and 2 alternate for --rounds rounds; rates are over all rounds.
3. Re-sync the unchanged corpus, in the same process and from a freshly opened index (as a new
   `deskhand kb sync` process would): chunks embedded and seconds.
Prints a table, then one JSON object of figures as the last line. Never asserts a timing.

    .venv/bin/python benchmarks/index_throughput.py [--data ../shared/data] [--corpus PATH]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.chunking import chunk_article  # noqa: E402
from knowledge.embeddings import get_embedder  # noqa: E402
from knowledge.index import KnowledgeIndex  # noqa: E402
from knowledge.sources import load_path  # noqa: E402
from worker.settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--corpus", type=Path, help="default: <data>/gnome_help_kb/articles.jsonl")
    ap.add_argument("--rounds", type=int, default=2, help="alternating model-alone / index runs")
    args = ap.parse_args()
    corpus = args.corpus or args.data / "gnome_help_kb" / "articles.jsonl"

    embedder = get_embedder(Settings().embedding_model)
    articles = load_path(corpus)
    chunks = [chunk for article in articles for chunk in chunk_article(article)]
    texts = [chunk.embedding_text for chunk in chunks]
    embedder.embed(texts[:64])  # load the model and warm up outside every timing

    def timed(work) -> tuple[float, float, object]:
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        return time.perf_counter() - wall, time.process_time() - cpu, result

    # Alternate model-alone and index runs so load from other processes on the machine falls on
    # both alike; CPU seconds (this process only) are reported beside wall time for the same reason.
    raw_wall, raw_cpu, index_wall, index_cpu = [], [], [], []
    work = Path(tempfile.mkdtemp(prefix="deskhand-throughput-"))
    try:
        for round_ in range(args.rounds):
            wall, cpu, _ = timed(lambda: embedder.embed(texts))
            raw_wall.append(wall)
            raw_cpu.append(cpu)
            index = KnowledgeIndex(path=work / f"chroma-{round_}", collection="gnome_help", embedder=embedder)
            wall, cpu, first = timed(lambda: index.sync(articles))
            index_wall.append(wall)
            index_cpu.append(cpu)
        again = index.sync(articles)
        reopened = KnowledgeIndex(path=work / f"chroma-{args.rounds - 1}", collection="gnome_help", embedder=embedder)
        cold_wall, _, cold = timed(lambda: reopened.sync(articles))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(texts)
    raw_rate, index_rate = n * len(raw_wall) / sum(raw_wall), n * len(index_wall) / sum(index_wall)
    cpu_fraction = sum(raw_cpu) / sum(index_cpu)
    print(f"corpus {corpus.name}: {len(articles)} articles, {n} chunks; {args.rounds} rounds")
    print(f"{'step':<34} {'chunks':>7} {'wall s':>8} {'cpu s':>7} {'chunks/s':>9}")
    for i in range(args.rounds):
        print(f"{'model alone':<34} {n:>7} {raw_wall[i]:>8.1f} {raw_cpu[i]:>7.1f} {n / raw_wall[i]:>9.1f}")
        print(f"{'sync into an empty index':<34} {n:>7} {index_wall[i]:>8.1f} {index_cpu[i]:>7.1f} {n / index_wall[i]:>9.1f}")
    print(f"{'re-sync unchanged (same process)':<34} {again.chunks_embedded:>7} {again.seconds:>8.2f}")
    print(f"{'re-sync unchanged (reopened)':<34} {cold.chunks_embedded:>7} {cold_wall:>8.2f}")
    print(f"index throughput = {index_rate / raw_rate:.2f} of the model's raw throughput (wall); {cpu_fraction:.2f} by CPU time")
    figures = {
        "corpus": corpus.name,
        "articles": len(articles),
        "chunks": n,
        "rounds": args.rounds,
        "raw_chunks_per_s": round(raw_rate, 1),
        "index_chunks_per_s": round(index_rate, 1),
        "index_fraction_of_raw": round(index_rate / raw_rate, 3),
        "index_fraction_of_raw_cpu": round(cpu_fraction, 3),
        "index_chunks_embedded": first.chunks_embedded,
        "resync_chunks_embedded": again.chunks_embedded,
        "resync_seconds": round(again.seconds, 2),
        "resync_reopened_chunks_embedded": cold.chunks_embedded,
        "resync_reopened_seconds": round(cold_wall, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
