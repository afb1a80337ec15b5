"""Retrieval quality of BM25, dense and hybrid search, side by side, through the product's own index.

Default query set: StackFAQ (125 StackExchange threads, 1,249 user-style queries with the gold
thread). Any other set runs unchanged: `--corpus` is a JSONL of records with an id (`id`, `_id` or
`doc_id`), `title` and `text`/`body` (or any file or folder `deskhand kb sync` reads), `--queries` a
TSV (header `query_id  query  doc_id`) or JSONL (`query`, `doc_id`; several gold ids separated by
commas). The corpus goes through the product's loaders, chunking and `KnowledgeIndex` (Chroma on
disk under --work-dir, re-synced incrementally on later runs); each query asks the index for
articles (one passage per article, no minimum score) in each mode.

Figures: recall@1, recall@5, MRR@10 and MAP (over the first --depth articles), and the paired
difference hybrid − dense in MRR@10 with its standard error (differences smaller than about two
standard errors are noise). `--tune` also grid-searches the fusion weights on the same candidates
and the weight of the title field in BM25, and reports for each the best setting and a 5-fold
cross-validated MRR@10 (folds split by gold article, setting chosen on the other four folds,
MRR@10 measured on the held-out one), so the product's defaults are not just fitted to the set
they are scored on.
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


def reciprocal_ranks(rankings: list[list[str]], golds: list[set[str]]) -> list[float]:
    """Per query: 1 / rank of the first gold article within the first 10, else 0 (MRR@10's terms)."""
    values = []
    for ranked, gold in zip(rankings, golds):
        rank = next((i for i, article_id in enumerate(ranked[:10], start=1) if article_id in gold), 0)
        values.append(1.0 / rank if rank else 0.0)
    return values


def paired_difference(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of a − b over the same queries, and its standard error."""
    differences = [x - y for x, y in zip(a, b)]
    if len(differences) < 2:
        return (differences[0] if differences else 0.0), 0.0
    return statistics.fmean(differences), statistics.stdev(differences) / len(differences) ** 0.5


def folds_by_gold(golds: list[set[str]], k: int = 5) -> list[int]:
    """Fold number of each query, split by gold article so paraphrases of one article never sit on both sides."""
    articles = sorted({min(g) for g in golds})
    random.Random(13).shuffle(articles)
    fold_of = {article: i % k for i, article in enumerate(articles)}
    return [fold_of[min(g)] for g in golds]


def cross_validate(rr_by_setting: dict, folds: list[int], prefer) -> tuple[float, list, list[float]]:
    """Held-out MRR@10 over all queries when each fold's setting is the best on the other folds.

    `rr_by_setting` maps a setting to its per-query reciprocal ranks; `prefer(setting)` breaks
    ties (higher wins). Returns (held-out MRR@10, the setting chosen per fold, MRR@10 per fold).
    """
    held_out, chosen, per_fold = 0.0, [], []
    for fold in sorted(set(folds)):
        train = [i for i, f in enumerate(folds) if f != fold]
        test = [i for i, f in enumerate(folds) if f == fold]
        best = max(rr_by_setting, key=lambda key: (statistics.fmean(rr_by_setting[key][i] for i in train), prefer(key)))
        chosen.append(best)
        scores = [rr_by_setting[best][i] for i in test]
        per_fold.append(statistics.fmean(scores))
        held_out += sum(scores)
    return held_out / len(folds), chosen, per_fold


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
    index._refresh()
    dense_pools = [index._dense(vector, n, None) for vector in vectors]
    lexical_pools = lexical_candidates(index, texts, n)
    seconds = time.perf_counter() - started

    def run(mode: str, fusion: Fusion, lexical_pools: list = lexical_pools) -> list[list[str]]:
        index.fusion = fusion
        return [ranked_articles(index._order(d, lx, mode), args.depth) for d, lx in zip(dense_pools, lexical_pools)]

    figures: dict = {"corpus": corpus.name, "queries": len(queries), "articles": len(articles), "chunks": index.count()}
    default = Fusion()
    rankings = {mode: run(mode, default) for mode in MODES}
    results = {mode: metrics(rankings[mode], golds) for mode in MODES}
    # Check that the shortcut above ranks exactly as the public search() does.
    probe = min(25, len(queries))
    public = [
        [p.article_id for p in index.search(texts[i], query_embedding=vectors[i], top_k=args.depth, min_score=-1.0, max_per_article=1)]
        for i in range(probe)
    ]
    figures["search_agrees"] = public == rankings["hybrid"][:probe]

    print(f"\n{'mode':<8} {'recall@1':>9} {'recall@5':>9} {'MRR@10':>8} {'MAP':>8}")
    for mode in MODES:
        m = results[mode]
        print(f"{mode:<8} {m['recall@1']:>9.4f} {m['recall@5']:>9.4f} {m['mrr@10']:>8.4f} {m['map']:>8.4f}")
    print(
        f"fusion: dense weight {default.dense_weight}, lexical weight {default.lexical_weight}, k {default.k}; "
        f"BM25 title field weight {index.lexical_title_weight}"
    )
    difference, error = paired_difference(*(reciprocal_ranks(rankings[mode], golds) for mode in ("hybrid", "dense")))
    print(f"hybrid − dense MRR@10: {difference:+.4f} ± {error:.4f} (paired standard error)")
    for mode in MODES:
        figures[mode] = {key: round(value, 4) for key, value in results[mode].items()}
    figures["fusion"] = {"dense_weight": default.dense_weight, "lexical_weight": default.lexical_weight, "k": default.k}
    figures["bm25_title_field_weight"] = index.lexical_title_weight
    best_single = max(results["bm25"]["mrr@10"], results["dense"]["mrr@10"])
    figures["hybrid_minus_best_single_mrr@10"] = round(results["hybrid"]["mrr@10"] - best_single, 4)
    figures["hybrid_minus_dense_mrr@10_se"] = round(error, 4)
    figures["candidate_seconds"] = round(seconds, 1)

    if args.tune:
        folds = folds_by_gold(golds)
        figures["tuning"] = tune_fusion(run, golds, folds)
        figures["tuning_title_field"] = tune_title_field(index, texts, n, run, golds, folds)
    print(json.dumps(figures))


def lexical_candidates(index: KnowledgeIndex, texts: list[str], n: int) -> list[list[tuple[str, float]]]:
    """Each query's BM25 candidates (id, score), best first, from the index's own lexical index."""
    lexical = index._lexical_index()
    return [lexical.search(text, n) for text in texts]


def tune_fusion(run, golds: list[set[str]], folds: list[int]) -> dict:
    """Grid of fusion settings; the best on all queries, and 5-fold cross-validated MRR@10."""
    grid = [
        Fusion(dense_weight=1.0, lexical_weight=w, k=k)
        for k in (1, 2, 5, 10, 20, 60)
        for w in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
    ]
    rr = {(f.lexical_weight, f.k): reciprocal_ranks(run("hybrid", f), golds) for f in grid}
    scored = sorted(((statistics.fmean(values), key) for key, values in rr.items()), reverse=True)
    print("\nfusion grid (lexical weight, k) → MRR@10, best 8:")
    for score, (w, k) in scored[:8]:
        print(f"  w={w:<5} k={k:<3} {score:.4f}")
    equal = statistics.fmean(rr[(1.0, 60)])
    print(f"  equal-weight RRF (w=1, k=60): {equal:.4f}")
    # Ties go to the smaller lexical weight.
    cv, chosen, per_fold = cross_validate(rr, folds, prefer=lambda key: -key[0])
    print(f"5-fold cross-validated hybrid MRR@10 (held-out folds): {cv:.4f} (weights chosen per fold: {chosen})")
    return {
        "best": {"lexical_weight": scored[0][1][0], "k": scored[0][1][1], "mrr@10": round(scored[0][0], 4)},
        "equal_weight_rrf_k60_mrr@10": round(equal, 4),
        "cv_mrr@10": round(cv, 4),
        "cv_fold_spread": round(statistics.pstdev(per_fold), 4),
        "cv_chosen": [list(key) for key in chosen],
    }


def tune_title_field(index: KnowledgeIndex, texts: list[str], n: int, run, golds: list[set[str]], folds: list[int]) -> dict:
    """BM25 MRR@10 for each weight of the title field, and its 5-fold cross-validated MRR@10;
    hybrid MRR@10 (default fusion) for each weight alongside. Restores the index's weight."""
    default_weight = index.lexical_title_weight
    bm25_rr, hybrid_mrr = {}, {}
    try:
        for weight in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0):
            index.lexical_title_weight = weight
            pools = lexical_candidates(index, texts, n)
            bm25_rr[weight] = reciprocal_ranks(run("bm25", Fusion(), pools), golds)
            hybrid_mrr[weight] = statistics.fmean(reciprocal_ranks(run("hybrid", Fusion(), pools), golds))
    finally:
        index.lexical_title_weight = default_weight
    print("\nBM25 title field weight → BM25 MRR@10, hybrid MRR@10:")
    for weight, values in bm25_rr.items():
        print(f"  {weight:<5} {statistics.fmean(values):.4f}  {hybrid_mrr[weight]:.4f}")
    # Ties go to the smaller weight.
    cv, chosen, per_fold = cross_validate(bm25_rr, folds, prefer=lambda weight: -weight)
    print(f"5-fold cross-validated BM25 MRR@10 (held-out folds): {cv:.4f} (weights chosen per fold: {chosen})")
    return {
        "bm25_mrr@10": {str(w): round(statistics.fmean(v), 4) for w, v in bm25_rr.items()},
        "hybrid_mrr@10": {str(w): round(v, 4) for w, v in hybrid_mrr.items()},
        "cv_bm25_mrr@10": round(cv, 4),
        "cv_fold_spread": round(statistics.pstdev(per_fold), 4),
        "cv_chosen": chosen,
    }


if __name__ == "__main__":
    main()
