"""`deskhand install zendesk|freshdesk` and `deskhand uninstall zendesk`: against the fake helpdesk server
(real HTTP on 127.0.0.1) through the CLI, and request by request with `responses`."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner

from integrations import freshdesk, zendesk
from tests.fakehelpdesk import FakeHelpdesk
from worker.cli import main
from worker.install import (
    TRIGGER_TITLE,
    WEBHOOK_NAME,
    InstallError,
    ZendeskAdmin,
    check_freshdesk,
    endpoint,
    freshdesk_rule,
    install_zendesk,
    trigger_body,
    update_env_file,
    webhook_body,
)
from worker.settings import get_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk"
API = "https://acme.zendesk.com/api/v2"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def fake():
    with FakeHelpdesk() as server:
        yield server


@pytest.fixture
def run(fake, tmp_path, monkeypatch):
    """Run `deskhand …` in tmp_path (its .env is tmp_path/.env) with credentials for the fake server."""
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "admin@acme.test", "ZENDESK_API_TOKEN": "zd-token",
        "ZENDESK_API_URL": fake.zendesk_url, "FRESHDESK_DOMAIN": "acme", "FRESHDESK_API_KEY": "fd-key",
        "FRESHDESK_API_URL": fake.freshdesk_url, "FRESHDESK_WEBHOOK_SECRET": "", "ZENDESK_BOT_USER_ID": "",
        "EMBEDDING_MODEL": "unused",
    }.items():
        monkeypatch.setenv(key, value)

    def invoke(*args: str):
        get_settings.cache_clear()
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        get_settings.cache_clear()
        return result

    yield invoke
    get_settings.cache_clear()


def env_values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))


# --- Zendesk through the CLI, against the fake server -----------------------------------------------


def test_install_creates_webhook_and_trigger_and_writes_the_secret(run, fake, tmp_path):
    result = run("install", "zendesk", "--url", "https://bot.example.com/")
    assert result.exit_code == 0, result.output
    [hook] = fake.zendesk_webhooks()
    assert (hook["name"], hook["endpoint"], hook["subscriptions"]) == (
        WEBHOOK_NAME, "https://bot.example.com/webhooks/zendesk", ["conditional_ticket_events"])
    assert (hook["http_method"], hook["request_format"], hook["status"]) == ("POST", "json", "active")
    [trigger] = fake.zendesk_triggers()
    assert trigger["title"] == TRIGGER_TITLE
    assert trigger["actions"] == [{"field": "notification_webhook", "value": [hook["id"], zendesk.TRIGGER_BODY_TEMPLATE]}]
    assert {"field": "current_user", "operator": "is_not", "value": str(fake.zendesk_bot_user_id)} in trigger["conditions"]["all"]
    env = env_values(tmp_path / ".env")
    assert env["ZENDESK_WEBHOOK_SECRET"].startswith("fake-signing-secret-")
    assert env["ZENDESK_BOT_USER_ID"] == str(fake.zendesk_bot_user_id) and env["HELPDESK"] == "zendesk"
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert env["ZENDESK_WEBHOOK_SECRET"] not in result.output  # written, not printed


def test_install_again_updates_in_place(run, fake, tmp_path):
    assert run("install", "zendesk", "--url", "https://bot.example.com").exit_code == 0
    first_hook, first_trigger = fake.zendesk_webhooks()[0]["id"], fake.zendesk_triggers()[0]["id"]
    (tmp_path / ".env").write_text("# mine\nLOG_LEVEL=DEBUG\n" + (tmp_path / ".env").read_text())
    result = run("install", "zendesk", "--url", "https://new-host.example.com")
    assert result.exit_code == 0, result.output
    assert "(updated)" in result.output
    [hook], [trigger] = fake.zendesk_webhooks(), fake.zendesk_triggers()
    assert (hook["id"], trigger["id"]) == (first_hook, first_trigger)
    assert hook["endpoint"] == "https://new-host.example.com/webhooks/zendesk"
    env = (tmp_path / ".env").read_text()
    assert env.startswith("# mine\nLOG_LEVEL=DEBUG\n") and env.count("ZENDESK_WEBHOOK_SECRET=") == 1


def test_dry_run_prints_every_request_and_sends_none(run, fake, tmp_path):
    result = run("install", "zendesk", "--url", "https://bot.example.com", "--dry-run")
    assert result.exit_code == 0, result.output
    assert fake.requests == [] and not (tmp_path / ".env").exists()
    lines = [line for line in result.output.splitlines() if line.startswith(("GET ", "POST ", "PUT ", "DELETE "))]
    assert [line.split()[0] for line in lines] == ["GET", "GET", "POST", "GET", "GET", "POST"]
    assert f"{fake.zendesk_url}/api/v2/webhooks" in result.output and "conditional_ticket_events" in result.output
    assert json.dumps(zendesk.TRIGGER_BODY_TEMPLATE)[1:-1] in result.output


def test_print_secret_writes_no_file(run, fake, tmp_path):
    result = run("install", "zendesk", "--url", "https://bot.example.com", "--print-secret")
    assert result.exit_code == 0 and "ZENDESK_WEBHOOK_SECRET=fake-signing-secret-" in result.output
    assert not (tmp_path / ".env").exists()


def test_uninstall_removes_trigger_then_webhook(run, fake):
    run("install", "zendesk", "--url", "https://bot.example.com")
    other = fake.add_zendesk_webhook("Deskhand staging", "https://staging.example.com/webhooks/zendesk")
    result = run("uninstall", "zendesk")
    assert result.exit_code == 0, result.output
    assert fake.zendesk_triggers() == [] and [w["id"] for w in fake.zendesk_webhooks()] == [other]
    deletes = [path for method, path, _ in fake.requests if method == "DELETE"]
    assert "/triggers/" in deletes[0] and "/webhooks/" in deletes[1]  # the webhook is in use until the trigger goes
    assert "removed 0 trigger(s)" in run("uninstall", "zendesk").output


def test_uninstall_dry_run_sends_nothing(run, fake):
    run("install", "zendesk", "--url", "https://bot.example.com")
    before = len(fake.requests)
    result = run("uninstall", "zendesk", "--dry-run")
    assert result.exit_code == 0 and len(fake.requests) == before
    assert len(fake.zendesk_webhooks()) == 1 and len(fake.zendesk_triggers()) == 1


def test_install_refuses_an_event_subscription_webhook_with_our_name(run, fake):
    fake.add_zendesk_webhook(WEBHOOK_NAME, "https://x.example.com", subscriptions=["zen:event-type:ticket.created"])
    result = run("install", "zendesk", "--url", "https://bot.example.com")
    assert result.exit_code != 0 and "connection method" in result.output
    assert fake.zendesk_triggers() == []


def test_install_rejects_a_bad_url(run, fake):
    result = run("install", "zendesk", "--url", "bot.example.com")
    assert result.exit_code != 0 and "--url" in result.output and fake.requests == []


# --- Freshdesk through the CLI ---------------------------------------------------------------------


def test_install_freshdesk_checks_credentials_with_one_call_and_prints_the_rule(run, fake, tmp_path):
    result = run("install", "freshdesk", "--url", "https://bot.example.com")
    assert result.exit_code == 0, result.output
    assert [(m, p) for m, p, _ in fake.requests] == [("GET", "/freshdesk/api/v2/agents/me")]
    env = env_values(tmp_path / ".env")
    secret = env["FRESHDESK_WEBHOOK_SECRET"]
    assert len(secret) >= 32 and env["FRESHDESK_BOT_AGENT_ID"] == str(fake.freshdesk_bot_agent_id)
    out = result.output
    assert "https://bot.example.com/webhooks/freshdesk" in out and f"X-Deskhand-Secret: {secret}" in out
    assert "When an action performed by: Requester" in out and "Reply is sent" in out
    assert freshdesk.WEBHOOK_BODY_TEMPLATE in out and "Encoding: JSON" in out


def test_install_freshdesk_keeps_a_configured_secret(run, fake, monkeypatch):
    monkeypatch.setenv("FRESHDESK_WEBHOOK_SECRET", "already-configured-secret")
    result = run("install", "freshdesk", "--url", "https://bot.example.com", "--print-secret")
    assert "X-Deskhand-Secret: already-configured-secret" in result.output
    assert "FRESHDESK_WEBHOOK_SECRET=already-configured-secret" in result.output


def test_install_freshdesk_bad_key(run, fake, monkeypatch):
    fake.fail_next("GET", r"/agents/me$", 401, body={"code": "invalid_credentials", "message": "You have to be logged in"})
    result = run("install", "freshdesk", "--url", "https://bot.example.com")
    assert result.exit_code != 0 and "FRESHDESK_API_KEY" in result.output


# --- request by request (responses) ----------------------------------------------------------------


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def admin():
    return ZendeskAdmin(subdomain="acme", email="admin@acme.test", api_token="tok", timeout_s=4, echo=lambda _: None)


def test_first_install_requests(admin, rsps):
    rsps.get(f"{API}/users/me.json", json=load("users_me.json"))
    rsps.get(f"{API}/webhooks", json=load("webhooks_list_empty.json"))
    rsps.post(f"{API}/webhooks", status=201, json=load("webhook_created.json"))
    rsps.get(f"{API}/webhooks/01JE4M7Q2R8S5T6V7W8X9Y0Z1A/signing_secret", json=load("signing_secret.json"))
    rsps.get(f"{API}/triggers.json", json={"triggers": [], "meta": {"has_more": False}, "links": {"next": None}})
    rsps.post(f"{API}/triggers.json", status=201, json=load("trigger_created.json"))
    done = install_zendesk(admin, base_url="https://bot.example.com")
    assert (done.webhook, done.trigger, done.webhook_id, done.trigger_id, done.bot_user_id) == (
        "created", "created", "01JE4M7Q2R8S5T6V7W8X9Y0Z1A", "3910000901", "3910019999")
    assert done.signing_secret == load("signing_secret.json")["signing_secret"]["secret"]
    assert json.loads(rsps.calls[2].request.body) == webhook_body("https://bot.example.com/webhooks/zendesk")
    assert json.loads(rsps.calls[5].request.body) == trigger_body("01JE4M7Q2R8S5T6V7W8X9Y0Z1A", "3910019999")
    assert "filter%5Bname_contains%5D=Deskhand" in rsps.calls[1].request.url
    assert all(c.request.req_kwargs["timeout"] == 4 for c in rsps.calls)
    assert rsps.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_reinstall_requests_update_by_id(admin, rsps):
    rsps.get(f"{API}/users/me.json", json=load("users_me.json"))
    rsps.get(f"{API}/webhooks", json=load("webhooks_list.json"))
    rsps.put(f"{API}/webhooks/01JE4M7Q2R8S5T6V7W8X9Y0Z1A", status=204)
    rsps.get(f"{API}/webhooks/01JE4M7Q2R8S5T6V7W8X9Y0Z1A/signing_secret", json=load("signing_secret.json"))
    rsps.get(f"{API}/triggers.json", json=load("triggers_list.json"))
    rsps.put(f"{API}/triggers/3910000901.json", json=load("trigger_created.json"))
    done = install_zendesk(admin, base_url="https://bot.example.com")
    assert (done.webhook, done.trigger) == ("updated", "updated")
    assert json.loads(rsps.calls[5].request.body)["trigger"]["actions"]  # a trigger update resends its actions


@pytest.mark.parametrize("status,hint", [(401, "ZENDESK_API_TOKEN"), (403, "must be an admin")])
def test_auth_errors_explain_themselves(admin, rsps, status, hint):
    rsps.get(f"{API}/users/me.json", status=status, json={"error": "Couldn't authenticate you"})
    with pytest.raises(InstallError, match=hint):
        install_zendesk(admin, base_url="https://bot.example.com")


def test_check_freshdesk_is_one_call(rsps):
    rsps.get("https://acme.freshdesk.com/api/v2/agents/me",
             json=json.loads((FIXTURES.parent / "freshdesk" / "agents_me.json").read_text()))
    assert check_freshdesk(domain="acme", api_key="k")["id"] == 43000000777
    assert len(rsps.calls) == 1


# --- pure pieces -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url,expected", [
    ("https://bot.example.com", "https://bot.example.com/webhooks/zendesk"),
    ("https://bot.example.com/", "https://bot.example.com/webhooks/zendesk"),
    ("https://example.com/deskhand/", "https://example.com/deskhand/webhooks/zendesk"),
])
def test_endpoint(url, expected):
    assert endpoint(url, "zendesk") == expected


@pytest.mark.parametrize("url", ["bot.example.com", "ftp://bot.example.com", "https://bot.example.com/?x=1", ""])
def test_endpoint_rejects(url):
    with pytest.raises(InstallError):
        endpoint(url, "zendesk")


def test_trigger_conditions_encode_created_or_requester_comment_and_never_the_bot():
    conditions = trigger_body("W1", "42")["trigger"]["conditions"]
    assert conditions == {
        "all": [{"field": "comment_is_public", "operator": "is", "value": "true"},
                {"field": "current_user", "operator": "is_not", "value": "42"}],
        "any": [{"field": "update_type", "operator": "is", "value": "Create"},
                {"field": "current_user", "operator": "is", "value": "requester_id"}],
    }


def test_freshdesk_rule_mentions_both_auth_forms():
    rule = freshdesk_rule(base_url="https://bot.example.com", secret="s3cret", bot_agent_id="77")
    assert "X-Deskhand-Secret: s3cret" in rule and "Password = the secret above" in rule and "id 77" in rule


def test_update_env_file(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# a comment\nHELPDESK=local\n# ZENDESK_WEBHOOK_SECRET=old-commented\nLOG_LEVEL=INFO\n")
    path.chmod(0o640)
    update_env_file(path, {"HELPDESK": "zendesk", "ZENDESK_WEBHOOK_SECRET": "new"})
    assert path.read_text() == ("# a comment\nHELPDESK=zendesk\n# ZENDESK_WEBHOOK_SECRET=old-commented\n"
                                "LOG_LEVEL=INFO\nZENDESK_WEBHOOK_SECRET=new\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_install_freshdesk_dry_run_calls_nothing_and_saves_nothing(run, fake, tmp_path):
    result = run("install", "freshdesk", "--url", "https://bot.example.com", "--dry-run")
    assert result.exit_code == 0 and fake.requests == [] and not (tmp_path / ".env").exists()
    assert "(not sent)" in result.output and "<new secret, made and saved by a real run>" in result.output


@pytest.mark.parametrize("base_url,warned", [("http://bot.example.com", True), ("https://bot.example.com", False)])
def test_install_warns_before_anything_when_the_url_is_plain_http(base_url, warned):
    printed = []
    dry = ZendeskAdmin(subdomain="acme", email="", api_token="", dry_run=True, echo=printed.append)
    install_zendesk(dry, base_url=base_url)
    warnings = [line for line in printed if line.startswith("warning:")]
    if warned:
        assert printed[0] == warnings[0]  # said before the first request is shown
        assert warnings == [
            "warning: http://bot.example.com/webhooks/zendesk is plain HTTP: webhook deliveries would cross the network "
            "unencrypted, and the helpdesk may refuse the endpoint. Use an https:// URL (e.g. a TLS-terminating proxy "
            "in front of Deskhand)."
        ]
    else:
        assert warnings == []
