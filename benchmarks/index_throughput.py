"""Index throughput on the GNOME Help corpus, against the embedding model's raw throughput, and re-sync cost.

1. Chunk the corpus with the product's chunking and time the bare model on those chunk texts
   (`Embedder.embed`, one call: the model's best case), before and after step 2; raw = the mean.
2. Sync the corpus into an empty index (`KnowledgeIndex.sync`: chunking, fingerprints, title
   vectors, embedding, Chroma writes) and report chunks/s and that as a fraction of raw.
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
    args = ap.parse_args()
    corpus = args.corpus or args.data / "gnome_help_kb" / "articles.jsonl"

    embedder = get_embedder(Settings().embedding_model)
    articles = load_path(corpus)
    chunks = [chunk for article in articles for chunk in chunk_article(article)]
    texts = [chunk.embedding_text for chunk in chunks]
    embedder.embed(texts[:64])  # load the model and warm up outside every timing

    def raw_seconds() -> float:
        started = time.perf_counter()
        embedder.embed(texts)
        return time.perf_counter() - started

    raw_before = raw_seconds()
    work = Path(tempfile.mkdtemp(prefix="deskhand-throughput-"))
    try:
        index = KnowledgeIndex(path=work / "chroma", collection="gnome_help", embedder=embedder)
        first = index.sync(articles)
        raw_after = raw_seconds()
        again = index.sync(articles)
        reopened = KnowledgeIndex(path=work / "chroma", collection="gnome_help", embedder=embedder)
        started = time.perf_counter()
        cold = reopened.sync(articles)
        cold_seconds = time.perf_counter() - started  # includes nothing but the sync: the model is loaded
    finally:
        shutil.rmtree(work, ignore_errors=True)

    raw_rate = len(texts) / ((raw_before + raw_after) / 2)
    index_rate = first.chunks_written / first.seconds
    print(f"corpus {corpus.name}: {len(articles)} articles, {len(chunks)} chunks")
    print(f"{'step':<34} {'chunks':>7} {'seconds':>8} {'chunks/s':>9}")
    print(f"{'model alone (before, after)':<34} {len(texts):>7} {raw_before:>8.1f} {len(texts) / raw_before:>9.1f}")
    print(f"{'':<34} {len(texts):>7} {raw_after:>8.1f} {len(texts) / raw_after:>9.1f}")
    print(f"{'sync into an empty index':<34} {first.chunks_embedded:>7} {first.seconds:>8.1f} {index_rate:>9.1f}")
    print(f"{'re-sync unchanged (same process)':<34} {again.chunks_embedded:>7} {again.seconds:>8.2f}")
    print(f"{'re-sync unchanged (reopened)':<34} {cold.chunks_embedded:>7} {cold_seconds:>8.2f}")
    print(f"index throughput = {index_rate / raw_rate:.2f} of the model's raw throughput")
    figures = {
        "corpus": corpus.name,
        "articles": len(articles),
        "chunks": len(chunks),
        "raw_chunks_per_s": round(raw_rate, 1),
        "index_chunks_per_s": round(index_rate, 1),
        "index_fraction_of_raw": round(index_rate / raw_rate, 3),
        "index_seconds": round(first.seconds, 1),
        "resync_chunks_embedded": again.chunks_embedded,
        "resync_seconds": round(again.seconds, 2),
        "resync_reopened_chunks_embedded": cold.chunks_embedded,
        "resync_reopened_seconds": round(cold_seconds, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
