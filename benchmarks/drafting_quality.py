"""Drafting on real input, offline drafter: how often each AI role drafts, how long drafts are, whether
every sentence carries a citation that resolves to a retrieved passage stating it, and the two goals
that must stay at 0 (drafts in escalate_only categories, drafts without a citation).

The same run as `deskhand eval`: Bitext customer messages (10 examples per category build the taxonomy,
seed 13; the rest are the tickets) against the ABCD policy guidelines as the knowledge base, with the
roles of the README's eval command. The draft framing (greeting, closing) is config/triage.yaml's.
Prints a table, then one JSON object of figures as the last line. Never asserts anything.

    .venv/bin/python benchmarks/drafting_quality.py [--data ../shared/data] [--limit 1000]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.embeddings import get_embedder  # noqa: E402
from knowledge.index import KnowledgeIndex  # noqa: E402
from knowledge.sources import load_path  # noqa: E402
from worker.checks import ask_for  # noqa: E402
from worker.config import CategoryConfig, Config, RoutingConfig, TriageConfig, load_config  # noqa: E402
from worker.evaluate import read_rows, split_examples, ticket_from_text  # noqa: E402
from worker.pipeline import Pipeline, analyze  # noqa: E402
from worker.sentences import LIST_ITEM, split_sentences, word_count  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.triage import Taxonomy  # noqa: E402

ROLES = "ACCOUNT=escalate_only,REFUND=summary_only,PAYMENT=constrained_draft,INVOICE=constrained_draft,CANCELLATION_FEE=constrained_draft"
_MARKS = re.compile(r"((?:\[\d+\])+)")
FACTS = ("order_number", "email", "device_model")


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def sentence_citations(body: str, fixed: set[str]) -> list[tuple[str, list[int]]]:
    """(sentence, citation numbers) for every sentence of the body's content lines; a sentence with no
    marker gets []."""
    out = []
    for line in body.splitlines():
        if line in fixed or not line.strip():
            continue
        parts = _MARKS.split(line)
        for i in range(0, len(parts), 2):
            text = " ".join(parts[i].split())
            marks = [int(n) for n in re.findall(r"\d+", parts[i + 1])] if i + 1 < len(parts) else []
            if text:
                out.append((text, marks))
    return out


def states(passage_text: str, sentence: str) -> bool:
    """The passage contains the sentence (or the list item) as written."""
    forms = set()
    for s in split_sentences(passage_text):
        forms.add(" ".join(s.split()))
        forms.add(" ".join(LIST_ITEM.sub("", s).split()))
    return sentence in forms or " ".join(sentence.split()) in " ".join(passage_text.split())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=1000, help="tickets to draft (0: all held-out tickets)")
    ap.add_argument("--roles", default=ROLES)
    ap.add_argument("--examples-per-category", type=int, default=10)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-drafting")
    args = ap.parse_args()

    tickets_csv = args.data / "bitext_customer_support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
    kb = args.data / "abcd_policy_kb" / "guidelines.json"
    settings = Settings(_env_file=None)
    roles = dict(kv.split("=", 1) for kv in args.roles.split(",") if kv.strip())

    rows = read_rows(tickets_csv)
    examples, held_out = split_examples(rows, "instruction", "category", args.examples_per_category, args.seed)
    drafting = load_config(ROOT / "config").triage.drafting
    triage_cfg = TriageConfig(
        categories={label.lower(): CategoryConfig(label=label, role=roles.get(label, "draft"), examples=texts) for label, texts in examples.items()},
        drafting=drafting,
    )
    config = Config(triage=triage_cfg, routing=RoutingConfig(), triage_path=tickets_csv, routing_path=tickets_csv)
    embedder = get_embedder(settings.embedding_model)
    collection = "eval_" + hashlib.sha256(str(kb.resolve()).encode()).hexdigest()[:12]
    index = KnowledgeIndex(path=args.work_dir / "chroma", collection=collection, embedder=embedder)
    articles = load_path(kb)
    index.sync(articles)
    p = Pipeline(helpdesk=None, config=config, taxonomy=Taxonomy.build(triage_cfg, embedder), index=index, embedder=embedder,
                 top_k=settings.top_k, min_score=settings.min_passage_score, max_words=settings.max_words)
    random.Random(args.seed).shuffle(held_out)
    tickets = held_out[: args.limit] if args.limit else held_out
    print(f"knowledge base: {len(articles)} ABCD guidelines · taxonomy: {len(examples)} Bitext categories × ≤{args.examples_per_category} "
          f"examples (seed {args.seed}) · {len(tickets)} tickets · offline drafter · max_words {settings.max_words}")

    for text, _ in tickets[: args.warmup]:  # load the model's kernels and the sentence cache's first entries
        t = ticket_from_text(0, text)
        analyze(t, t.messages[0], p)

    fixed = {*drafting.greeting.values(), *drafting.closing.values()}
    fixed |= {ask_for(tuple(c), "en") for c in ([f] for f in FACTS)} | {ask_for(FACTS[:2], "en")}
    per_role: dict[str, list[bool]] = defaultdict(list)
    words: list[int] = []
    ms: list[float] = []
    sentences = valid = 0
    escalate_drafts = uncited_drafts = 0
    for i, (text, _label) in enumerate(tickets):
        t = ticket_from_text(i + 1, text)
        start = time.perf_counter()
        a = analyze(t, t.messages[0], p)
        ms.append((time.perf_counter() - start) * 1000)
        d = a.draft
        per_role[a.triage.role].append(d.has_draft)
        if not d.has_draft:
            continue
        words.append(word_count(d.body))
        escalate_drafts += a.triage.role == "escalate_only"
        cited = sentence_citations(d.body, fixed)
        uncited_drafts += not d.citations or not any(marks for _, marks in cited)
        for sentence, marks in cited:
            sentences += 1
            # [n] names an article; the sentence may come from any retrieved passage (chunk) of it. A
            # chunk's section heading is the source's own words too (drafts use it to introduce a list).
            valid += bool(marks) and all(1 <= n <= len(d.citations) for n in marks) and any(
                states(f"{q.section}:\n{q.text}", sentence) for n in marks if 1 <= n <= len(d.citations)
                for q in a.passages if q.article_id == d.citations[n - 1].article_id)

    n = len(tickets)
    figures = {
        "tickets": n,
        "drafter": "offline",
        "draft_share": round(sum(sum(v) for v in per_role.values()) / n, 4) if n else 0.0,
        "draft_share_by_role": {r: round(sum(v) / len(v), 4) for r, v in sorted(per_role.items())},
        "tickets_by_role": {r: len(v) for r, v in sorted(per_role.items())},
        "median_draft_words": statistics.median(words) if words else 0,
        "p95_draft_words": pct(words, 0.95),
        "max_draft_words": max(words) if words else 0,
        "sentences": sentences,
        "sentences_with_valid_citation_share": round(valid / sentences, 4) if sentences else 0.0,
        "drafts_in_escalate_only": escalate_drafts,
        "drafts_without_citation": uncited_drafts,
        "ms_per_ticket_median": round(statistics.median(ms), 1) if ms else 0.0,
        "ms_per_ticket_p95": round(pct(ms, 0.95), 1),
    }
    print(f"\n{'role':<20}{'tickets':>9}{'drafted':>10}")
    for role, v in sorted(per_role.items()):
        print(f"{role:<20}{len(v):>9}{sum(v) / len(v):>10.1%}")
    print()
    for key in ("median_draft_words", "p95_draft_words", "max_draft_words", "sentences", "sentences_with_valid_citation_share",
                "drafts_in_escalate_only", "drafts_without_citation", "ms_per_ticket_median", "ms_per_ticket_p95"):
        print(f"{key:<40}{figures[key]}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
