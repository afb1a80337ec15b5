"""Retrieval quality of BM25, dense and hybrid search, side by side, through the product's own index.

Default query set: StackFAQ (125 StackExchange threads, 1,249 user-style queries with the gold
thread). Any other set runs unchanged: `--corpus` is a JSONL of records with an id (`id`, `_id` or
`doc_id`), `title` and `text`/`body` (or any file or folder `deskhand kb sync` reads), `--queries` a
TSV (header `query_id  query  doc_id`) or JSONL (`query`, `doc_id`; several gold ids separated by
commas). The corpus goes through the product's loaders, chunking and `KnowledgeIndex` (Chroma on
disk under --work-dir, re-synced incrementally on later runs); each query asks the index for
articles (one passage per article, no minimum score) in each mode.

Figures: recall@1, recall@5, MRR@10 and MAP (over the first --depth articles). `--tune` also
grid-searches the fusion weights on the same candidates, reports the best weights and a 5-fold
cross-validated MRR@10 (folds split by gold article, weights chosen on the other folds), so the
product's defaults are not just fitted to the set they are scored on.
Prints a table, then one JSON object of figures as the last line.

    .venv/bin/python benchmarks/retrieval_quality.py [--data ../shared/data] [--tune]
    .venv/bin/python benchmarks/retrieval_quality.py --corpus my_kb.jsonl --queries my_queries.tsv
"""
from __future__ import annotations

import argparse
import csv
import hashlib
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
from knowledge.models import Article  # noqa: E402
from knowledge.retrieval import Fusion, select  # noqa: E402
from knowledge.sources import article_from_record, load_path  # noqa: E402
from worker.settings import Settings  # noqa: E402

MODES = ("bm25", "dense", "hybrid")


def load_corpus(path: Path) -> list[Article]:
    """Articles from a BEIR-like JSONL corpus (id / _id / doc_id, title, text) or any `load_path` input."""
    if path.suffix == ".jsonl":
        articles = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                record = json.loads(line)
                record["id"] = record.get("id") or record.get("_id") or record.get("doc_id")
                articles.append(article_from_record(record, where=f"{path}:{number}"))
        return articles
    return load_path(path)


def load_queries(path: Path) -> list[tuple[str, set[str]]]:
    """(query text, gold article ids) pairs from a TSV with a header or a JSONL file."""
    pairs = []
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    for row in rows:
        gold = str(row.get("doc_id") or row.get("gold") or "")
        if row.get("query") and gold:
            pairs.append((str(row["query"]), {g.strip() for g in gold.split(",") if g.strip()}))
    return pairs


def metrics(rankings: list[list[str]], golds: list[set[str]]) -> dict[str, float]:
    """recall@1, recall@5 (share of queries with a gold article in the first 1 / 5), MRR@10, MAP."""
    r1 = r5 = mrr = ap_sum = 0.0
    for ranked, gold in zip(rankings, golds):
        hits = [i for i, article_id in enumerate(ranked, start=1) if article_id in gold]
        r1 += bool(hits and hits[0] == 1)
        r5 += bool(hits and hits[0] <= 5)
        mrr += 1.0 / hits[0] if hits and hits[0] <= 10 else 0.0
        ap_sum += sum((n + 1) / rank for n, rank in enumerate(hits)) / len(gold)
    n = max(1, len(golds))
    return {"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n, "map": ap_sum / n}


def ranked_articles(candidates, depth: int) -> list[str]:
    return [c.article_id for c in select(candidates, top_k=depth, min_score=-1.0, max_per_article=1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--corpus", type=Path, help="default: <data>/stackfaq/corpus.jsonl")
    ap.add_argument("--queries", type=Path, help="default: <data>/stackfaq/queries.tsv")
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench" / "retrieval")
    ap.add_argument("--depth", type=int, default=100, help="articles ranked per query (MAP depth)")
    ap.add_argument("--limit", type=int, default=0, help="evaluate at most N queries (0: all)")
    ap.add_argument("--tune", action="store_true", help="grid-search the fusion weights, with 5-fold cross-validation")
    args = ap.parse_args()
    corpus = args.corpus or args.data / "stackfaq" / "corpus.jsonl"
    queries_path = args.queries or args.data / "stackfaq" / "queries.tsv"

    embedder = get_embedder(Settings().embedding_model)
    articles = load_corpus(corpus)
    queries = load_queries(queries_path)
    if args.limit:
        queries = queries[: args.limit]
    collection = "bench-" + hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:12]
    index = KnowledgeIndex(path=args.work_dir / "chroma", collection=collection, embedder=embedder, candidates=args.depth * 3)
    stats = index.sync(articles, source="benchmark")
    print(
        f"corpus {corpus.name}: {len(articles)} articles, {index.count()} chunks "
        f"({stats.chunks_embedded} embedded now, {stats.seconds:.1f} s); {len(queries)} queries from {queries_path.name}"
    )

    started = time.perf_counter()
    texts = [text for text, _ in queries]
    vectors = embedder.embed(texts)
    golds = [gold for _, gold in queries]
    # One pass collects every query's dense and lexical candidates through the index; each mode
    # (and each fusion setting when tuning) then orders the same candidates.
    n = args.depth * 3
    pools = []
    index._refresh()
    for text, vector in zip(texts, vectors):
        dense = index._dense(vector, n, None)
        lexical = index._lexical_index().search(text, n)
        pools.append((dense, lexical))
    seconds = time.perf_counter() - started

    def run(mode: str, fusion: Fusion) -> list[list[str]]:
        index.fusion = fusion
        return [ranked_articles(index._order(d, lx, mode), args.depth) for d, lx in pools]

    figures: dict = {"corpus": corpus.name, "queries": len(queries), "articles": len(articles), "chunks": index.count()}
    default = Fusion()
    results = {mode: metrics(run(mode, default), golds) for mode in MODES}
    # Check that the shortcut above ranks exactly as the public search() does.
    probe = min(25, len(queries))
    public = [
        [p.article_id for p in index.search(texts[i], query_embedding=vectors[i], top_k=args.depth, min_score=-1.0, max_per_article=1)]
        for i in range(probe)
    ]
    figures["search_agrees"] = public == run("hybrid", default)[:probe]

    print(f"\n{'mode':<8} {'recall@1':>9} {'recall@5':>9} {'MRR@10':>8} {'MAP':>8}")
    for mode in MODES:
        m = results[mode]
        print(f"{mode:<8} {m['recall@1']:>9.4f} {m['recall@5']:>9.4f} {m['mrr@10']:>8.4f} {m['map']:>8.4f}")
    print(f"fusion: dense weight {default.dense_weight}, lexical weight {default.lexical_weight}, k {default.k}")
    for mode in MODES:
        figures[mode] = {key: round(value, 4) for key, value in results[mode].items()}
    figures["fusion"] = {"dense_weight": default.dense_weight, "lexical_weight": default.lexical_weight, "k": default.k}
    best_single = max(results["bm25"]["mrr@10"], results["dense"]["mrr@10"])
    figures["hybrid_minus_best_single_mrr@10"] = round(results["hybrid"]["mrr@10"] - best_single, 4)
    figures["candidate_seconds"] = round(seconds, 1)

    if args.tune:
        figures["tuning"] = tune(run, golds, queries)
    print(json.dumps(figures))


def tune(run, golds: list[set[str]], queries: list[tuple[str, set[str]]]) -> dict:
    """Grid of fusion settings; the best on all queries, and 5-fold cross-validated MRR@10."""
    grid = [
        Fusion(dense_weight=1.0, lexical_weight=w, k=k)
        for k in (1, 2, 5, 10, 20, 60)
        for w in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
    ]
    rankings = {(f.lexical_weight, f.k): run("hybrid", f) for f in grid}

    def mrr(key, subset):
        return metrics([rankings[key][i] for i in subset], [golds[i] for i in subset])["mrr@10"]

    everyone = range(len(golds))
    scored = sorted(((mrr(key, everyone), key) for key in rankings), reverse=True)
    print("\nfusion grid (lexical weight, k) → MRR@10, best 8:")
    for score, (w, k) in scored[:8]:
        print(f"  w={w:<5} k={k:<3} {score:.4f}")
    equal = mrr((1.0, 60), everyone)
    print(f"  equal-weight RRF (w=1, k=60): {equal:.4f}")

    # Folds by gold article, so paraphrases of one thread never sit on both sides.
    articles = sorted({min(g) for g in golds})
    random.Random(13).shuffle(articles)
    fold_of = {article: i % 5 for i, article in enumerate(articles)}
    held_out, chosen = [], []
    for fold in range(5):
        train = [i for i in everyone if fold_of[min(golds[i])] != fold]
        test = [i for i in everyone if fold_of[min(golds[i])] == fold]
        best = max(rankings, key=lambda key: (mrr(key, train), -key[0]))
        chosen.append(best)
        held_out.append((mrr(best, test), len(test)))
    cv = sum(score * size for score, size in held_out) / sum(size for _, size in held_out)
    print(f"5-fold cross-validated MRR@10: {cv:.4f} (weights chosen per fold: {chosen})")
    return {
        "best": {"lexical_weight": scored[0][1][0], "k": scored[0][1][1], "mrr@10": round(scored[0][0], 4)},
        "equal_weight_rrf_k60_mrr@10": round(equal, 4),
        "cv_mrr@10": round(cv, 4),
        "cv_fold_spread": round(statistics.pstdev(s for s, _ in held_out), 4),
        "cv_chosen": [list(key) for key in chosen],
    }


if __name__ == "__main__":
    main()
