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
    """The help-center index: sync approved sources, search, stats, stale articles."""


@kb.command("sync")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--source", "source", help="zendesk, freshdesk, or a PATH (same as the argument).")
@click.option("--full", is_flag=True, help="Zendesk: export every article again instead of the changes since the last sync.")
@click.option("--allow-empty", is_flag=True, help="Let a folder with no approved article empty the index (refused otherwise).")
def kb_sync(path: Path | None, source: str | None, full: bool, allow_empty: bool) -> None:
    """Sync one approved source into the index: a folder/file of Markdown, HTML or JSONL articles
    (the full approved set, so removed articles disappear), Zendesk Help Center or Freshdesk Solutions."""
    from integrations.base import HelpdeskError
    from worker.kb import run_sync

    if (path is None) == (source is None):
        raise click.UsageError("give either PATH or --source zendesk|freshdesk|PATH")
    name = str(path) if path is not None else str(source)
    bar = None

    def progress(done: int, total: int) -> None:
        # Opened on the first chunk written, so a sync with nothing to embed shows no empty bar.
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label=f"embedding {name}", show_pos=True, file=sys.stderr)
            bar.__enter__()
        bar.length = max(bar.length or 0, total)
        bar.update(done - bar.pos)

    try:
        stats = run_sync(get_settings(), name, full=full, progress=progress, allow_empty=allow_empty)
    except (ValueError, FileNotFoundError, HelpdeskError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(
        f"{name}: {stats.added} added, {stats.updated} updated, {stats.deleted} deleted, {stats.unchanged} unchanged"
        f"{f', {stats.skipped} without text' if stats.skipped else ''}; "
        f"{stats.chunks_embedded} chunks embedded in {stats.seconds:.1f} s"
    )


@kb.command("search")
@click.argument("text")
@click.option("--top-k", default=5, show_default=True, type=int)
@click.option("--locale", default=None, help="Only articles in this locale or language (en, en-us).")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), default=None, help="Default: KB_RETRIEVAL.")
@click.option("--min-score", default=0.0, show_default=True, type=float, help="Minimum cosine similarity.")
def kb_search(text: str, top_k: int, locale: str | None, mode: str | None, min_score: float) -> None:
    """Print the top passages for TEXT, in retrieval order, with their cosine similarity."""
    from worker.wiring import build_index

    if not text.strip():
        raise click.UsageError("TEXT is empty: give the words to search for")

    passages = build_index(get_settings()).search(text, top_k=top_k, locale=locale, mode=mode, min_score=min_score)
    if not passages:
        click.echo("no passages (is the index empty? run `deskhand kb sync PATH`)")
    for p in passages:
        snippet = " ".join(p.text.split())[:160]
        flags = " [stale]" if p.stale else ""
        click.echo(f"{p.score:.3f}  {p.title}  [{p.article_id}]{flags}\n       {snippet}")


@kb.command("stats")
def kb_stats() -> None:
    """Chunks and articles in the index, per source and locale, and each source's sync cursor."""
    from collections import Counter

    from worker.wiring import build_index

    s = get_settings()
    index = build_index(s)
    infos = index.article_infos()
    where = f"{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.chroma_dir)
    click.echo(f"index {s.chroma_collection} at {where}: {index.count()} chunks, {len(infos)} articles")
    for source, n in sorted(Counter(i.source for i in infos).items()):
        click.echo(f"  {source}: {n} articles")
    for locale, n in sorted(Counter(i.locale for i in infos).items()):
        click.echo(f"  locale {locale}: {n} articles")
    stale = index.stale_articles()
    click.echo(f"  stale or outdated: {len(stale)} (older than {s.kb_stale_after_days} days, or outdated upstream)")
    cursor = index.get_state("zendesk").get("start_time")
    if cursor:
        from datetime import datetime, timezone

        click.echo(f"  zendesk cursor: {datetime.fromtimestamp(int(cursor), timezone.utc):%Y-%m-%d %H:%M:%S} UTC")


@kb.command("stale")
@click.option("--days", type=int, default=None, help="Older than this many days (default: KB_STALE_AFTER_DAYS).")
def kb_stale(days: int | None) -> None:
    """List stale or outdated articles by section, oldest first: the knowledge owners' review list."""
    from worker.wiring import build_index

    stale = build_index(get_settings()).stale_articles(days)
    if not stale:
        click.echo("no stale or outdated articles")
        return
    section = None
    for info, age in stale:
        if (info.source, info.section) != section:
            section = (info.source, info.section)
            click.echo(f"{info.section or '(no section)'} [{info.source}]")
        why = "outdated upstream" if info.outdated else f"{age} days old" if age is not None else "no date"
        updated = info.updated_at[:10] or "-"
        click.echo(f"  {updated}  {info.title}  [{info.id}]  {why}{'  ' + info.url if info.url else ''}")


@main.group()
def config() -> None:
    """Ops configuration (config/*.yaml)."""


@config.command("check")
def config_check() -> None:
    """Validate triage.yaml, routing.yaml and knowledge.yaml; errors name file and line."""
    from worker.kb import allowlists

    s = get_settings()
    try:
        cfg = load_config(s.config_dir)
        allowlists(s)
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    unrouted = sorted(set(cfg.triage.categories) - set(cfg.routing.categories))
    click.echo(f"ok: {len(cfg.triage.categories)} categories, {len(cfg.routing.all_tags())} routing tags ({s.config_dir})")
    if unrouted:
        click.echo(f"note: no routing in routing.yaml for {', '.join(unrouted)}: those tickets get only the shared tags")


@main.command()
@click.argument("text", required=False)
@click.option("--ticket", "ticket_file", type=click.Path(exists=True, path_type=Path), help="A ticket JSON (local format).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (triage, tags, group) instead.")
def triage(text: str | None, ticket_file: Path | None, as_json: bool) -> None:
    """Preview triage (with its reasons), the tags and group, and the note for TEXT or a ticket file, posting nothing."""
    from dataclasses import asdict

    from integrations.base import PermanentHelpdeskError
    from integrations.local import html_to_text, ticket_from_json
    from worker.pipeline import analyze, should_process
    from worker.wiring import build_pipeline

    if ticket_file:
        try:
            ticket = ticket_from_json(json.loads(ticket_file.read_text(encoding="utf-8")))
        except (ValueError, PermanentHelpdeskError) as exc:
            raise click.ClickException(f"{ticket_file}: {exc}") from exc
    elif text:
        from worker.evaluate import ticket_from_text

        ticket = ticket_from_text(0, text)
    else:
        raise click.UsageError("give TEXT or --ticket FILE")
    s = get_settings()
    configure_logging(s.log_level, s.log_json)  # logs to stderr: stdout is the preview (or its JSON)
    try:
        p = build_pipeline(s, helpdesk=None, with_store=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    message, why_not = should_process(ticket)
    if message is None and ticket.latest_customer_message() is None:
        raise click.ClickException("the ticket has no public customer message")
    would_skip = f"the worker would post nothing for this ticket: {why_not}" if message is None else ""
    message = message or ticket.latest_customer_message()
    a = analyze(ticket, message, p)
    t = a.triage
    if as_json:
        click.echo(json.dumps({"triage": asdict(t), "tags": list(a.note.tags), "group": a.note.group, "drafted": a.draft.has_draft,
                               "would_skip": would_skip or None}))
        return
    if would_skip:
        click.echo(f"NOTE: {would_skip}; the preview below shows what it would say otherwise.\n")
    if p.index.count() == 0:
        click.echo("NOTE: the help-center index is empty, so no draft is possible: run `deskhand kb sync PATH` first.\n")
    alternatives = ", ".join(f"{n} {c:.2f}" for n, c in t.alternatives) or "-"
    click.echo(f"category:     {t.category} ({t.label}) · confidence {t.confidence:.2f} · role {t.role}")
    click.echo(f"alternatives: {alternatives}")
    click.echo(f"urgency:      {t.urgency} · sentiment {t.sentiment} · language {t.language}")
    click.echo(f"risk flags:   {', '.join(t.risks) or '-'}")
    click.echo("reasons:\n" + "\n".join(f"  - {r}" for r in t.reasons))
    click.echo(f"tags:         {' '.join(a.note.tags)}\ngroup:        {a.note.group or '-'}")
    click.echo("\n--- the internal note (not posted) ---")
    click.echo(html_to_text(a.note.html))


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


@main.group()
def install() -> None:
    """Connect Deskhand to a helpdesk (see README: Install in Zendesk / Install in Freshdesk)."""


_ENV_FILE = click.option("--env-file", default=Path(".env"), show_default=True, type=click.Path(path_type=Path),
                         help="Where to write the secret and the bot's id.")
_PRINT_SECRET = click.option("--print-secret", is_flag=True, help="Print the secret instead of writing it to --env-file.")


@install.command("zendesk")
@click.option("--url", "base_url", required=True, help="Deskhand's public base URL, e.g. https://bot.example.com")
@click.option("--dry-run", is_flag=True, help="Print every request; send none.")
@_ENV_FILE
@_PRINT_SECRET
def install_zendesk_command(base_url: str, dry_run: bool, env_file: Path, print_secret: bool) -> None:
    """Create or update Deskhand's webhook and trigger in Zendesk; store the webhook's signing secret."""
    from worker.install import InstallError, ZendeskAdmin, install_zendesk

    s = get_settings()
    if dry_run:
        click.echo("dry run: these are the requests an install sends (on a first install); none is sent")
    try:
        admin = ZendeskAdmin(subdomain=s.zendesk_subdomain, email=s.zendesk_email, api_token=s.zendesk_api_token,
                             api_url=s.zendesk_api_url, timeout_s=s.http_timeout_s, dry_run=dry_run, echo=click.echo)
        done = install_zendesk(admin, base_url=base_url, configured_bot_user_id=s.zendesk_bot_user_id)
    except InstallError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:
        click.echo(f"dry run: nothing was sent; {env_file} would get ZENDESK_WEBHOOK_SECRET and ZENDESK_BOT_USER_ID")
        return
    click.echo(f"webhook {done.webhook_id} ({done.webhook}) → {base_url.rstrip('/')}/webhooks/zendesk")
    click.echo(f"trigger {done.trigger_id} ({done.trigger}), not fired by Deskhand's API user {done.bot_user_id}")
    _store_secrets(env_file, print_secret, {"ZENDESK_WEBHOOK_SECRET": done.signing_secret,
                                            "ZENDESK_BOT_USER_ID": done.bot_user_id, "HELPDESK": "zendesk"})


@install.command("freshdesk")
@click.option("--url", "base_url", required=True, help="Deskhand's public base URL, e.g. https://bot.example.com")
@click.option("--dry-run", is_flag=True, help="Print the rule and the credentials check without calling Freshdesk.")
@_ENV_FILE
@_PRINT_SECRET
def install_freshdesk_command(base_url: str, dry_run: bool, env_file: Path, print_secret: bool) -> None:
    """Check the Freshdesk credentials (one API call) and print the automation rules to create."""
    import secrets

    from worker.install import InstallError, check_freshdesk, freshdesk_rule

    s = get_settings()
    secret = s.freshdesk_webhook_secret or ("<new secret, made and saved by a real run>" if dry_run else secrets.token_urlsafe(32))
    values = {"FRESHDESK_WEBHOOK_SECRET": secret, "HELPDESK": "freshdesk"}
    try:
        if dry_run:
            click.echo(f"GET {(s.freshdesk_api_url or 'https://' + s.freshdesk_domain).rstrip('/')}/api/v2/agents/me  (not sent)")
            agent_id = s.freshdesk_bot_agent_id
        else:
            agent = check_freshdesk(domain=s.freshdesk_domain, api_key=s.freshdesk_api_key,
                                    api_url=s.freshdesk_api_url, timeout_s=s.http_timeout_s)
            agent_id = str(agent["id"])
            name = (agent.get("contact") or {}).get("name") or "?"
            click.echo(f"credentials ok: the API key belongs to agent {agent_id} ({name}), Deskhand's agent")
            values["FRESHDESK_BOT_AGENT_ID"] = agent_id
        # The admin pastes the secret into the rule, so the rule shows it.
        click.echo(freshdesk_rule(base_url=base_url, secret=secret, bot_agent_id=agent_id))
    except InstallError as exc:
        raise click.ClickException(str(exc)) from exc
    if not dry_run:
        _store_secrets(env_file, print_secret, values)


@main.group()
def uninstall() -> None:
    """Remove what `deskhand install` created."""


@uninstall.command("zendesk")
@click.option("--dry-run", is_flag=True, help="Print every request; send none.")
def uninstall_zendesk_command(dry_run: bool) -> None:
    """Delete Deskhand's trigger, then its webhook, from Zendesk."""
    from worker.install import InstallError, ZendeskAdmin, uninstall_zendesk

    s = get_settings()
    if dry_run:
        click.echo("dry run: these are the lookups an uninstall sends, then one DELETE per trigger and webhook found; none is sent")
    try:
        admin = ZendeskAdmin(subdomain=s.zendesk_subdomain, email=s.zendesk_email, api_token=s.zendesk_api_token,
                             api_url=s.zendesk_api_url, timeout_s=s.http_timeout_s, dry_run=dry_run, echo=click.echo)
        triggers, hooks = uninstall_zendesk(admin)
    except InstallError as exc:
        raise click.ClickException(str(exc)) from exc
    if not dry_run:
        click.echo(f"removed {len(triggers)} trigger(s) {' '.join(triggers)} and {len(hooks)} webhook(s) {' '.join(hooks)}")


def _store_secrets(env_file: Path, print_secret: bool, values: dict[str, str]) -> None:
    from worker.install import update_env_file

    if print_secret:
        click.echo("add to your environment or .env:\n" + "\n".join(f"{k}={v}" for k, v in values.items()))
        return
    update_env_file(env_file, values)
    click.echo(f"wrote {', '.join(values)} to {env_file}")


if __name__ == "__main__":
    main()
