"""`deskhand` command line: serve, demo, kb sync/search, config check, triage preview, eval."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import click

from worker.config import ConfigError, load_config
from worker.logs import configure_logging
from worker.settings import get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@click.group()
def main() -> None:
    """Deskhand: triage, grounded drafts as private internal notes, routing tags."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Intake and a ticket worker in one process (embedded broker unless REDIS_URL is set)."""
    from werkzeug.serving import make_server

    from worker.celery_app import TICKETS_QUEUE, app
    from worker.web import create_app
    from worker.wiring import worker_pipeline

    s = get_settings()
    configure_logging(s.log_level, s.log_json)
    import structlog

    log = structlog.get_logger("deskhand.serve")
    try:
        load_config(s.config_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not s.redis_url:
        log.warning(
            "embedded_broker",
            detail="REDIS_URL is unset: using the embedded broker under DATA_DIR. It is not crash-safe "
            "(a job running when the process dies is lost). Set REDIS_URL for production.",
        )
    worker_pipeline()  # load the model and the index before the first job
    server = make_server(host, port, create_app(s), threaded=True)
    threading.Thread(target=server.serve_forever, name="intake", daemon=True).start()
    log.info("serving", url=f"http://{host}:{server.server_port}", helpdesk=s.helpdesk)
    worker = app.Worker(
        queues=[TICKETS_QUEUE],
        pool="solo",
        concurrency=1,
        loglevel=s.log_level,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        quiet=True,
    )
    try:
        worker.start()
    finally:
        server.shutdown()


@main.command()
@click.option("--port", default=0, type=int, help="Port for the demo service (0: any free port).")
@click.option("--timeout", "timeout_s", default=300, show_default=True, type=int, help="Seconds to wait for the jobs.")
def demo(port: int, timeout_s: int) -> None:
    """Index the sample help center, start the service, send signed webhooks, print every note posted."""
    from worker.demo import run_demo

    sys.exit(run_demo(PROJECT_ROOT / "demo", port=port, timeout_s=timeout_s))


@main.group()
def kb() -> None:
    """The help-center index."""


@kb.command("sync")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def kb_sync(path: Path) -> None:
    """Index a folder of Markdown/HTML/JSONL articles (or a JSON/JSONL file); the folder is the full approved set."""
    from knowledge.sources import load_path
    from worker.wiring import build_index

    try:
        articles = load_path(path)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    stats = build_index(get_settings()).sync(articles)
    click.echo(
        f"{len(articles)} articles: {stats.added} added, {stats.updated} updated, {stats.deleted} deleted, "
        f"{stats.unchanged} unchanged; {stats.chunks_embedded} chunks embedded in {stats.seconds:.1f} s"
    )


@kb.command("search")
@click.argument("text")
@click.option("--top-k", default=5, show_default=True, type=int)
def kb_search(text: str, top_k: int) -> None:
    """Print the top passages for TEXT with their cosine similarity."""
    from worker.wiring import build_index

    passages = build_index(get_settings()).search(text, top_k=top_k)
    if not passages:
        click.echo("no passages (is the index empty? run `deskhand kb sync PATH`)")
    for p in passages:
        snippet = " ".join(p.text.split())[:160]
        click.echo(f"{p.score:.3f}  {p.title}  [{p.article_id}]\n       {snippet}")


@main.group()
def config() -> None:
    """Ops configuration (config/*.yaml)."""


@config.command("check")
def config_check() -> None:
    """Validate triage.yaml and routing.yaml; errors name file and line."""
    s = get_settings()
    try:
        cfg = load_config(s.config_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"ok: {len(cfg.triage.categories)} categories, {len(cfg.routing.all_tags())} routing tags ({s.config_dir})")


@main.command()
@click.argument("text", required=False)
@click.option("--ticket", "ticket_file", type=click.Path(exists=True, path_type=Path), help="A ticket JSON (local format).")
def triage(text: str | None, ticket_file: Path | None) -> None:
    """Preview triage, draft and tags for TEXT or a ticket file, without posting anything."""
    from integrations.local import html_to_text, ticket_from_json
    from worker.pipeline import analyze
    from worker.wiring import build_pipeline

    if ticket_file:
        ticket = ticket_from_json(json.loads(ticket_file.read_text()))
    elif text:
        from worker.evaluate import ticket_from_text

        ticket = ticket_from_text(0, text)
    else:
        raise click.UsageError("give TEXT or --ticket FILE")
    try:
        p = build_pipeline(get_settings(), helpdesk=None, with_store=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    message = ticket.latest_customer_message()
    if message is None:
        raise click.ClickException("the ticket has no public customer message")
    a = analyze(ticket, message, p)
    click.echo(html_to_text(a.note.html))
    click.echo(f"\ntags: {' '.join(a.note.tags)}\ngroup: {a.note.group or '-'}")


@main.command("eval")
@click.option("--tickets", "tickets_path", required=True, type=click.Path(exists=True, path_type=Path), help="CSV or JSONL of tickets.")
@click.option("--kb", "kb_path", required=True, type=click.Path(exists=True, path_type=Path), help="Knowledge base folder or JSON/JSONL.")
@click.option("--text-field", default="instruction", show_default=True)
@click.option("--label-field", default="category", show_default=True)
@click.option("--examples-per-category", default=10, show_default=True, type=int)
@click.option("--seed", default=13, show_default=True, type=int)
@click.option("--roles", default="", help="CATEGORY=role,… for the built taxonomy (default: draft for all).")
@click.option("--limit", default=0, type=int, help="Evaluate at most N tickets (0: all).")
@click.option("--work-dir", default=Path("var/eval"), type=click.Path(path_type=Path), show_default=True)
def evaluate(tickets_path, kb_path, text_field, label_field, examples_per_category, seed, roles, limit, work_dir) -> None:
    """Run triage → retrieval → draft on real tickets without posting; last line is one JSON object of figures."""
    from worker.evaluate import run_eval

    role_map = dict(kv.split("=", 1) for kv in roles.split(",") if kv.strip())
    figures = run_eval(
        tickets_path,
        kb_path,
        text_field=text_field,
        label_field=label_field,
        examples_per_category=examples_per_category,
        seed=seed,
        roles=role_map,
        limit=limit,
        work_dir=work_dir,
        settings=get_settings(),
        echo=click.echo,
    )
    click.echo(json.dumps(figures))


if __name__ == "__main__":
    main()
