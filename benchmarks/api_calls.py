"""Helpdesk API calls per processed ticket, in each vendor's rate-limit units.

Runs the real job (`worker.pipeline.run_event`: the real adapters, triage, retrieval over the demo help
center in Chroma with the real embedding model, drafting) against the fake Zendesk/Freshdesk server on
127.0.0.1, and counts the requests in the server's log for three events per helpdesk:
- a new ticket (processed: one note);
- a follow-up customer message on it (processed: a second note);
- an event that is skipped (the update caused by Deskhand's own note, delivered again).
Units: Zendesk counts every request as 1; Freshdesk counts every request as 1, except a read with
`include=conversations`, which costs 2 (Deskhand does not use it). For Zendesk, "ticket updates" are the
writes that count against its limit of 30 updates per ticket per 10 minutes.

Also measured: a Zendesk account that ignores `additional_tags` on a single-ticket update (one reading
of the docs), a Freshdesk follow-up whose triage adds a tag the ticket does not have yet, and both
helpdesks with routing that raises the priority (`categories.shipping.priority: high` in a copy of
config/routing.yaml under the work dir; the shipped config sets no priority).

Prints a table, then one JSON object of figures as the last line. Never asserts.

    .venv/bin/python benchmarks/api_calls.py [--work-dir var/bench-api]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integrations.base import TicketEvent  # noqa: E402
from integrations.freshdesk import FreshdeskHelpdesk  # noqa: E402
from integrations.zendesk import ZendeskHelpdesk  # noqa: E402
from knowledge.sources import load_path  # noqa: E402
from tests.fakehelpdesk import FakeHelpdesk  # noqa: E402
from worker.logs import configure_logging  # noqa: E402
from worker.pipeline import run_event  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.wiring import build_index, build_pipeline  # noqa: E402

REQUESTER = 70001
NEW = "How many business days does standard shipping take to France?"
FOLLOW_UP = "Thanks! And how long does express shipping take?"
FOLLOW_UP_OTHER = "Also, I was charged twice for this order. Can you refund the second charge?"
GOAL = {"processed": 3, "skipped": 2}


def units(vendor: str, requests: list[tuple[str, str, object]]) -> int:
    if vendor == "freshdesk":
        return sum(2 if re.search(r"[?&]include=[^&]*conversations", path) else 1 for _, path, _ in requests)
    return len(requests)


def ticket_updates(requests: list[tuple[str, str, object]]) -> int:
    return sum(1 for method, path, _ in requests if method == "PUT" and re.search(r"/tickets/\d+(\.json|/tags\.json)$", path))


def priority_config(work_dir: Path) -> Path:
    """A copy of config/ whose routing raises shipping tickets to priority high."""
    target = work_dir / "config-priority"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "triage.yaml", target / "triage.yaml")
    routing = (ROOT / "config" / "routing.yaml").read_text(encoding="utf-8")
    shipping = 'shipping: {tags: ["shipping"], group: null}'
    if shipping not in routing:
        raise SystemExit(f"config/routing.yaml no longer has the line {shipping!r}; update benchmarks/api_calls.py")
    (target / "routing.yaml").write_text(routing.replace(shipping, shipping[:-1] + ", priority: high}"), encoding="utf-8")
    return target


def measure(vendor: str, settings: Settings, *, zendesk_additional_tags: bool = True,
            follow_up: str = FOLLOW_UP) -> dict[str, dict[str, object]]:
    """Run new ticket → follow-up → skipped event on a fresh fake server; the calls each event cost."""
    with FakeHelpdesk(zendesk_additional_tags=zendesk_additional_tags) as fake:
        if vendor == "zendesk":
            helpdesk = ZendeskHelpdesk(subdomain="acme", email="deskhand@acme.test", api_token="t",
                                       api_url=fake.zendesk_url, bot_user_id=str(fake.zendesk_bot_user_id))
            fake.add_zendesk_ticket(9001, "Shipping", REQUESTER, [(REQUESTER, "requester", NEW, True)], tags=["web"])
        else:
            helpdesk = FreshdeskHelpdesk(domain="acme", api_key="k", api_url=fake.freshdesk_url,
                                         bot_agent_id=str(fake.freshdesk_bot_agent_id))
            fake.add_freshdesk_ticket(9001, "Shipping", REQUESTER, [(REQUESTER, "requester", NEW, True)], tags=["web"])
        pipeline = build_pipeline(settings, helpdesk=helpdesk)
        results: dict[str, dict[str, object]] = {}

        def run(name: str, delivery: str) -> None:
            start = len(fake.requests)
            outcome = run_event(TicketEvent(helpdesk=vendor, ticket_id=9001, kind="ticket_changed", delivery_id=delivery),
                                pipeline, job_id=f"bench-{vendor}-{delivery}")
            calls = fake.requests[start:]
            results[name] = {"status": outcome.status, "requests": len(calls), "units": units(vendor, calls),
                             "ticket_updates": ticket_updates(calls), "priority": fake.priority(vendor, 9001),
                             "calls": [f"{m} {re.sub(r'^/(zendesk|freshdesk)', '', p).split('?')[0]}" for m, p, _ in calls]}

        run("new_ticket", "d1")
        if vendor == "zendesk":
            fake.add_zendesk_comment(9001, REQUESTER, "requester", follow_up, True)
        else:
            fake.add_freshdesk_reply(9001, REQUESTER, follow_up)
        run("follow_up", "d2")
        run("skipped", "d3")
        return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench-api")
    args = ap.parse_args()
    configure_logging("WARNING", False)  # the adapters log every response at INFO
    if args.work_dir.exists():
        shutil.rmtree(args.work_dir)
    settings = Settings(data_dir=args.work_dir, chroma_path=str(args.work_dir / "chroma"), database_url="",
                        config_dir=ROOT / "config", freshdesk_ratelimit_reserve=0, _env_file=None)
    build_index(settings).sync(load_path(ROOT / "demo" / "help_center"))

    runs = {
        "zendesk": measure("zendesk", settings),
        "freshdesk": measure("freshdesk", settings),
        "zendesk_additional_tags_ignored": measure("zendesk", settings.model_copy(update={"data_dir": args.work_dir / "z2"}),
                                                   zendesk_additional_tags=False),
        "freshdesk_follow_up_new_tag": measure("freshdesk", settings.model_copy(update={"data_dir": args.work_dir / "f2"}),
                                               follow_up=FOLLOW_UP_OTHER),
    }
    with_priority = settings.model_copy(update={"config_dir": priority_config(args.work_dir)})
    runs["zendesk_priority_high"] = measure("zendesk", with_priority.model_copy(update={"data_dir": args.work_dir / "z3"}))
    runs["freshdesk_priority_high"] = measure("freshdesk", with_priority.model_copy(update={"data_dir": args.work_dir / "f3"}))
    print(f"{'run':34} {'event':11} {'status':8} {'units':>5} {'updates':>7}  calls")
    for run_name, results in runs.items():
        for event, r in results.items():
            print(f"{run_name:34} {event:11} {r['status']:8} {r['units']:>5} {r['ticket_updates']:>7}  {', '.join(r['calls'])}")
    figures: dict[str, object] = {}
    for name, results in runs.items():
        figures[name] = {event: r["units"] for event, r in results.items()}
        if name.startswith("zendesk"):  # the writes Zendesk counts against 30 updates per ticket per 10 minutes
            figures[name]["ticket_updates_per_note"] = max(r["ticket_updates"] for r in results.values())
        if name.endswith("priority_high"):  # as the vendor stores it after the first note (Freshdesk: 3 = high)
            figures[name]["priority_after_new_ticket"] = results["new_ticket"]["priority"]
    figures["goal"] = GOAL
    figures["statuses_ok"] = all(
        r["status"] == ("skipped" if event == "skipped" else "posted") for results in runs.values() for event, r in results.items()
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
