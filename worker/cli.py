"""`deskhand` command line: serve, demo, kb sync/search, config check, triage preview, eval."""
from __future__ import annotations

import json
import logging
import re
import sys
import threading
from pathlib import Path

import click

from worker.config import ConfigError, load_config
from worker.logs import configure_logging
from worker.settings import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


MAIN_EPILOG = (
    "Settings come from the environment and ./.env (see .env.example); run deskhand from the repository "
    "folder, or set CONFIG_DIR and DATA_DIR. Logs go to stderr (LOG_LEVEL, LOG_JSON); stdout carries only "
    "each command's output."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=MAIN_EPILOG)
@click.version_option(package_name="deskhand")
def main() -> None:
    """Deskhand: triage, grounded drafts as private internal notes, routing tags."""
    # Every command logs to stderr, so stdout stays the command's own output (a report, JSON) even for
    # libraries that log while it runs; structlog would otherwise print to stdout.
    s = get_settings()
    configure_logging(s.log_level, s.log_json)
    if s.log_level.upper() == "INFO":  # its "Loading SentenceTransformer model…" line read as an error to new users
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the webhook intake listens on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the webhook intake.")
def serve(host: str, port: int) -> None:
    """Run the webhook intake and one worker in one process.

    The worker runs ticket jobs and help-center sync jobs (the `tickets` and `knowledge` queues),
    one at a time; with Redis, waiting ticket jobs go before syncs. With KB_SYNC_SOURCES and
    KB_SYNC_INTERVAL_S set, it also runs the periodic sync (the Procfile's `beat`). The queue is an embedded broker
    under DATA_DIR unless REDIS_URL is set; the embedded broker loses a job that runs when the
    process dies. For production, run the Procfile's processes instead. Stop with Ctrl+C.
    """
    import structlog
    from werkzeug.serving import make_server

    from worker.celery_app import KNOWLEDGE_QUEUE, TICKETS_QUEUE, app
    from worker.web import create_app
    from worker.wiring import unlabeled_messages, worker_pipeline

    s = get_settings()
    log = structlog.get_logger("deskhand.serve")
    try:
        load_config(s.config_dir)
        unlabeled_messages(s)
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
        queues=[TICKETS_QUEUE, KNOWLEDGE_QUEUE],  # no separate `kb` worker here: this one runs syncs too
        pool="solo",
        concurrency=1,
        loglevel=s.log_level,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        quiet=True,
        # KB_SYNC_SOURCES + KB_SYNC_INTERVAL_S: the periodic sync runs here too (the Procfile's `beat`)
        beat=bool(app.conf.beat_schedule),
        schedule_filename=str(Path(s.data_dir) / "celerybeat-schedule"),
    )
    try:
        worker.start()
    finally:
        server.shutdown()


@main.command()
@click.option("--port", default=0, type=int, help="Port for the demo's `deskhand serve` (default: any free port).")
@click.option("--timeout", "timeout_s", default=300, show_default=True, type=int,
              help="Seconds to wait for the jobs before giving up.")
def demo(port: int, timeout_s: int) -> None:
    """Run the end-to-end demo on the sample tickets.

    No account, API key or Redis is needed. Indexes demo/help_center, starts `deskhand serve` (local
    helpdesk, embedded broker), sends each sample ticket a signed webhook and prints every internal
    note posted. Everything happens under var/demo/, which is emptied first; your own index and
    store are not touched.
    """
    from worker.demo import run_demo

    sys.exit(run_demo(PROJECT_ROOT / "demo", port=port, timeout_s=timeout_s))


@main.group()
def kb() -> None:
    """Sync, search and inspect the help-center index."""


@kb.command("sync")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--source", "source", metavar="zendesk|freshdesk|PATH",
              help="Zendesk Help Center, Freshdesk Solutions, or a PATH (same as giving PATH).")
@click.option("--full", is_flag=True, help="Zendesk only: export every article again, not only the changes since the last sync.")
@click.option("--allow-empty", is_flag=True, help="Let a PATH with no approved article delete its indexed articles (refused otherwise; other sources are never touched).")
def kb_sync(path: Path | None, source: str | None, full: bool, allow_empty: bool) -> None:
    """Sync one approved source into the help-center index.

    PATH is a folder or file of Markdown, HTML, JSON or JSONL articles. It is the full approved set:
    articles no longer in it are removed from the index. --source zendesk or freshdesk syncs the
    Help Center or Solutions articles that config/knowledge.yaml approves, with the credentials in
    .env. Unchanged articles embed nothing.
    """
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
    ignored = getattr(stats, "ignored", ())  # only folder syncs see files of other types
    if ignored:
        click.echo(f"{len(ignored)} file(s) not indexed:", err=True)
        for line in ignored[:20]:
            click.echo(f"  {line}", err=True)
        if len(ignored) > 20:
            click.echo(f"  … and {len(ignored) - 20} more", err=True)
    errors = getattr(stats, "errors", ())  # only folder syncs skip bad files
    if errors:
        click.echo(f"{len(errors)} file(s) or record(s) skipped (fix them and sync again):", err=True)
        for message in errors:
            click.echo(f"  {message}", err=True)
        kept = getattr(stats, "kept_ids", ())
        if kept:
            click.echo(f"kept the last good indexed version of {len(kept)} articles: {', '.join(kept)}", err=True)
        if getattr(stats, "deletions_held", False):
            click.echo("deleted nothing: the ids in a skipped file could not be read, so removed articles could not be told apart", err=True)
        sys.exit(1)


@kb.command("search")
@click.argument("text")
@click.option("--top-k", default=5, show_default=True, type=int, help="How many passages to print at most.")
@click.option("--locale", default=None, help="Only articles in this locale; a language matches its locales (en finds en-us).")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), default=None,
              help="Retrieval: dense and BM25 fused, dense only, or BM25 only (default: KB_RETRIEVAL).")
@click.option("--min-score", default=0.0, show_default=True, type=float,
              help="Hide passages below this cosine similarity (drafts use MIN_PASSAGE_SCORE).")
def kb_search(text: str, top_k: int, locale: str | None, mode: str | None, min_score: float) -> None:
    """Print the passages that best match TEXT.

    Passages come in retrieval order, best first, as drafting would get them, each with its cosine
    similarity to TEXT; stale ones are marked [stale], and ones below MIN_PASSAGE_SCORE (which
    would not ground a draft) are marked too.
    """
    from worker.wiring import build_index

    if not text.strip():
        raise click.UsageError("TEXT is empty: give the words to search for")

    index = build_index(get_settings())
    passages = index.search(text, top_k=top_k, locale=locale, mode=mode, min_score=min_score)
    if not passages:
        click.echo(_why_no_passages(index, locale, min_score))
    floor = get_settings().min_passage_score
    for p in passages:
        snippet = " ".join(p.text.split())[:160]
        flags = " [stale]" if p.stale else ""
        if p.score < floor:
            flags += f" [below the minimum score {floor}: would not ground a draft]"
        click.echo(f"{p.score:.3f}  {p.title}  [{p.article_id}]{flags}\n       {snippet}")


def _why_no_passages(index, locale: str | None, min_score: float) -> str:
    """The reason `kb search` found nothing: an empty index, a locale no article is in, or the scores."""
    from knowledge.index import language_of

    if index.count() == 0:
        return "no passages: the index is empty; run `deskhand kb sync PATH` (or --source zendesk|freshdesk) first"
    if locale:
        locales = sorted({info.locale for info in index.article_infos()})
        # Search matches by language ("en" finds en-us articles), so compare languages the same way.
        if language_of(locale) not in {language_of(indexed) for indexed in locales}:
            return f"no passages: no article is indexed in locale {locale}; indexed locales: {', '.join(locales)}"
    if min_score > 0:
        return f"no passages with a cosine similarity of at least {min_score} (--min-score)"
    return "no passages matched"


@kb.command("stats")
def kb_stats() -> None:
    """Count the index's chunks and articles per source and locale.

    Also prints how many articles are stale or outdated, and the Zendesk sync cursor.
    """
    from collections import Counter

    from worker.wiring import build_index

    s = get_settings()
    index = build_index(s)
    infos = index.article_infos()
    where = _index_location(s)
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
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Stale when older than this many days, at least 1 (default: KB_STALE_AFTER_DAYS; 0 there means never by age).")
def kb_stale(days: int | None) -> None:
    """List stale or outdated articles, by section, oldest first.

    The knowledge owners' review list: articles older than --days, or marked outdated upstream.
    """
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
    """Check the ops configuration (CONFIG_DIR, default config/)."""


@config.command("check")
def config_check() -> None:
    """Validate config/*.yaml and the TRIAGE_UNLABELED_PATH export.

    Reads triage.yaml, routing.yaml and knowledge.yaml from CONFIG_DIR (default config/); an error
    names the file and line. The export of past tickets, when set, must be readable.
    """
    from worker.kb import allowlists
    from worker.wiring import unlabeled_messages

    s = get_settings()
    try:
        cfg = load_config(s.config_dir)
        allowlists(s)
        unlabeled_messages(s)
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    unrouted = sorted(set(cfg.triage.categories) - set(cfg.routing.categories))
    click.echo(f"ok: {len(cfg.triage.categories)} categories, {len(cfg.routing.all_tags())} routing tags ({s.config_dir})")
    if unrouted:
        click.echo(f"note: no routing in routing.yaml for {', '.join(unrouted)}: those tickets get only the shared tags")


@main.command()
@click.argument("text", required=False)
@click.option("--ticket", "ticket_file", type=click.Path(exists=True, path_type=Path),
              help="A ticket JSON file in the local helpdesk's format (e.g. demo/tickets/1001.json) instead of TEXT.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (triage, tags, group, priority, drafted, would_skip, note, index_empty) "
                   "instead of the preview.")
def triage(text: str | None, ticket_file: Path | None, as_json: bool) -> None:
    """Preview what Deskhand would do with a ticket; posts nothing.

    TEXT is one customer message (or give --ticket FILE, not both). Prints the triage with its
    reasons, the tags and group, and the internal note, drafted from the index `deskhand kb sync`
    built; with --json, one object whose `note` is the note's plain text.
    """
    from dataclasses import asdict

    from integrations.base import PermanentHelpdeskError
    from integrations.local import html_to_text, ticket_from_json
    from worker.pipeline import analyze, should_process
    from worker.wiring import build_pipeline

    if ticket_file and text is not None:
        raise click.UsageError(f"give TEXT or --ticket FILE, not both (got TEXT and --ticket {ticket_file})")
    if ticket_file:
        try:
            ticket = ticket_from_json(json.loads(ticket_file.read_text(encoding="utf-8")))
        except (ValueError, PermanentHelpdeskError) as exc:
            raise click.ClickException(f"{ticket_file}: {exc}") from exc
    elif text is not None and not re.sub(r"[\s\u200b-\u200f\u2060\ufeff]+", "", text):  # blank, or only invisible characters
        raise click.UsageError("TEXT is empty")
    elif text:
        from worker.evaluate import ticket_from_text

        ticket = ticket_from_text(0, text)
    else:
        raise click.UsageError("give TEXT or --ticket FILE")
    s = get_settings()
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
    index_empty = p.index.count() == 0
    note_text = html_to_text(a.note.html)
    if as_json:
        click.echo(json.dumps({"triage": asdict(t), "tags": list(a.note.tags), "group": a.note.group, "priority": a.priority,
                               "drafted": a.draft.has_draft,
                               "would_skip": would_skip or None, "note": note_text, "index_empty": index_empty}))
        return
    # An empty index withholds every draft, and the note then blames the sources: say so before and after it.
    empty = (f"NOTE: the help-center index ({_index_location(s)}) is empty, so no draft is possible: "
             "run `deskhand kb sync PATH` (or --source zendesk|freshdesk), then preview again.")
    if would_skip:
        click.echo(f"NOTE: {would_skip}; the preview below shows what it would say otherwise.\n")
    if index_empty:
        click.echo(empty + "\n")
    alternatives = ", ".join(f"{n} {c:.2f}" for n, c in t.alternatives) or "-"
    click.echo(f"category:     {t.category} ({t.label}) · confidence {t.confidence:.2f} · role {t.role}")
    click.echo(f"alternatives: {alternatives}")
    click.echo(f"urgency:      {t.urgency} · sentiment {t.sentiment} · language {t.language}")
    click.echo(f"risk flags:   {', '.join(t.risks) or '-'}")
    click.echo("reasons:\n" + "\n".join(f"  - {r}" for r in t.reasons))
    click.echo(f"tags:         {' '.join(a.note.tags)}\ngroup:        {a.note.group or '-'}")
    click.echo(f"priority:     {f'at least {a.priority} (raised, never lowered)' if a.priority else '-'}")
    click.echo("\n--- the internal note (not posted) ---")
    click.echo(note_text)
    if index_empty:
        click.echo("\n" + empty)


def _index_location(s: Settings) -> str:
    """Where the index is: the Chroma server (host:port) or its folder."""
    return f"{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.chroma_dir)


@main.command("eval")
@click.option("--tickets", "tickets_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="CSV (with a header) or JSONL of labelled tickets.")
@click.option("--kb", "kb_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Articles to retrieve from: a folder or a JSON/JSONL file (indexed under --work-dir).")
@click.option("--text-field", default="instruction", show_default=True, help="Column holding the customer's message.")
@click.option("--label-field", default="category", show_default=True, help="Column holding the true category.")
@click.option("--examples-per-category", default=10, show_default=True, type=int,
              help="Tickets per category used as the taxonomy's examples (the rest are evaluated).")
@click.option("--seed", default=13, show_default=True, type=int, help="Seed of the example draw and the ticket order.")
@click.option("--roles", default="", metavar="LABEL=ROLE,…",
              help="AI role per category label (draft, constrained_draft, summary_only, escalate_only); default: draft.")
@click.option("--limit", default=0, type=int, help="Evaluate at most N tickets (default: all).")
@click.option("--work-dir", default=Path("var/eval"), type=click.Path(path_type=Path), show_default=True,
              help="Where the evaluation keeps its own index.")
def evaluate(tickets_path, kb_path, text_field, label_field, examples_per_category, seed, roles, limit, work_dir) -> None:
    """Measure triage and drafting on labelled tickets.

    Builds a taxonomy from a few tickets per label, then runs triage, retrieval and drafting on the
    others, posting nothing. Prints a summary; its last line is one JSON object of figures.
    """
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
    """Connect Deskhand to Zendesk or Freshdesk.

    See the README's sections "Install in Zendesk" and "Install in Freshdesk".
    """


_ENV_FILE = click.option("--env-file", default=Path(".env"), show_default=True, type=click.Path(path_type=Path),
                         help="Where to write the secret and the bot's id.")
_PRINT_SECRET = click.option("--print-secret", is_flag=True, help="Print the secret instead of writing it to --env-file.")


@install.command("zendesk")
@click.option("--url", "base_url", required=True, help="Deskhand's public base URL, e.g. https://bot.example.com")
@click.option("--dry-run", is_flag=True, help="Print every request; send none.")
@_ENV_FILE
@_PRINT_SECRET
def install_zendesk_command(base_url: str, dry_run: bool, env_file: Path, print_secret: bool) -> None:
    """Create or update Deskhand's webhook and trigger in Zendesk.

    Uses ZENDESK_SUBDOMAIN, ZENDESK_EMAIL and ZENDESK_API_TOKEN, then writes the webhook's signing
    secret and Deskhand's user id to --env-file.
    """
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
@click.option("--dry-run", is_flag=True, help="Print the rules and the credentials check without calling Freshdesk or writing --env-file.")
@_ENV_FILE
@_PRINT_SECRET
def install_freshdesk_command(base_url: str, dry_run: bool, env_file: Path, print_secret: bool) -> None:
    """Check the Freshdesk key; print the automation rules to create.

    Uses FRESHDESK_DOMAIN and FRESHDESK_API_KEY (one API call), then writes a shared secret and
    Deskhand's agent id to --env-file; Freshdesk has no API for the rules themselves.
    """
    import secrets

    from worker.install import InstallError, check_freshdesk, freshdesk_rule, plain_http_warning

    s = get_settings()
    warning = plain_http_warning(base_url)
    if warning:  # the shared secret travels in a header of every webhook: it must not go in clear text
        click.echo(warning, err=True)
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
    """Remove what `deskhand install` created in a helpdesk."""


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
