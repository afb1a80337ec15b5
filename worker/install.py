"""Install Deskhand in a helpdesk: `deskhand install zendesk|freshdesk`, `deskhand uninstall zendesk`.

Zendesk has APIs for both halves of the set-up, so installing is done for the admin:
1. `GET /api/v2/users/me` — checks the credentials and names Deskhand's API user (the trigger must
   not fire for that user's own updates, and the worker must not read its notes as customer messages);
2. the trigger-connected webhook, found by name (`GET /api/v2/webhooks?filter[name_contains]=…`) and
   updated (`PUT /api/v2/webhooks/{id}`), or created (`POST /api/v2/webhooks`);
3. its signing secret (`GET /api/v2/webhooks/{id}/signing_secret`), which intake needs to verify calls;
4. the trigger, found by title (`GET /api/v2/triggers`, cursor pages) and updated
   (`PUT /api/v2/triggers/{id}`, the whole trigger) or created (`POST /api/v2/triggers`).
Running it again changes nothing but what differs. With `dry_run`, every request is printed and none is
sent (ids the helpdesk would assign are shown as `<…>` placeholders). Uninstall deletes the trigger
first (a webhook a trigger uses cannot go), then the webhook.

Freshdesk has no API for automation rules, so `freshdesk_rule` writes out the rule an admin creates,
and `check_freshdesk` verifies the credentials with one call (`GET /api/v2/agents/me`).

Docs: https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/ ,
https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/ ,
https://developer.zendesk.com/documentation/ticketing/reference-guides/conditions-reference/ ,
https://support.freshdesk.com/support/solutions/articles/132589 (webhooks in automation rules).
Secrets and URLs are arguments; nothing here reads the environment.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

import requests

from integrations import freshdesk, zendesk
from integrations.http import NETWORK_ERRORS, error_for_status

WEBHOOK_NAME = "Deskhand"
TRIGGER_TITLE = "Deskhand: draft an internal note when the requester writes"
_DESCRIPTION = "Installed by `deskhand install zendesk`; removed by `deskhand uninstall zendesk`."

Echo = Callable[[str], None]


class InstallError(Exception):
    """Installing could not go on; the message says why and what to do."""


def endpoint(base_url: str, helpdesk: str) -> str:
    """`https://bot.example.com` → `https://bot.example.com/webhooks/<helpdesk>`. Raises `InstallError`
    for anything that is not an absolute http(s) URL without query or fragment."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InstallError(f"--url must be the public base URL of Deskhand, like https://bot.example.com (got {base_url!r})")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/webhooks/{helpdesk}"


def plain_http_warning(endpoint_url: str) -> str | None:
    """A warning for an `http://` endpoint, None for `https://`.

    Over plain HTTP every delivery (ticket ids; for Freshdesk the shared secret itself) crosses the
    network readable by anyone on the path. Whether Zendesk refuses an http:// endpoint is not in the
    docs Deskhand follows, so this warns rather than refuses (a test set-up behind a tunnel still installs).
    """
    if urlsplit(endpoint_url).scheme == "https":
        return None
    return (
        f"warning: {endpoint_url} is plain HTTP: webhook deliveries would cross the network unencrypted, and the "
        "helpdesk may refuse the endpoint. Use an https:// URL (e.g. a TLS-terminating proxy in front of Deskhand)."
    )


# ---------------------------------------------------------------------------------------------------
# Zendesk
# ---------------------------------------------------------------------------------------------------


def webhook_body(endpoint_url: str) -> dict[str, Any]:
    """The webhook Deskhand needs: trigger-connected (`conditional_ticket_events`), POST, JSON, active.
    Requests are signed by Zendesk; no credentials are stored in the webhook."""
    return {
        "webhook": {
            "name": WEBHOOK_NAME,
            "description": _DESCRIPTION,
            "status": "active",
            "endpoint": endpoint_url,
            "http_method": "POST",
            "request_format": "json",
            "subscriptions": ["conditional_ticket_events"],
        }
    }


def trigger_body(webhook_id: str, bot_user_id: str) -> dict[str, Any]:
    """The trigger: the ticket is created, or updated with a public comment by its requester, and the
    update was not made by Deskhand's API user → notify the webhook with `zendesk.TRIGGER_BODY_TEMPLATE`.

    In Zendesk's condition arrays that is ALL (a public comment, current user is not the bot) and ANY
    (created, current user is the requester). `requester_id` as a `current_user` value and "true" for
    `comment_is_public` follow Zendesk's conditions reference and its standard notification triggers.
    """
    return {
        "trigger": {
            "title": TRIGGER_TITLE,
            "description": _DESCRIPTION,
            "active": True,
            "conditions": {
                "all": [
                    {"field": "comment_is_public", "operator": "is", "value": "true"},
                    {"field": "current_user", "operator": "is_not", "value": str(bot_user_id)},
                ],
                "any": [
                    {"field": "update_type", "operator": "is", "value": "Create"},
                    {"field": "current_user", "operator": "is", "value": "requester_id"},
                ],
            },
            "actions": [{"field": "notification_webhook", "value": [webhook_id, zendesk.TRIGGER_BODY_TEMPLATE]}],
        }
    }


class ZendeskAdmin:
    """The few admin API calls `install_zendesk` makes, with basic auth `<email>/token:<api_token>` and a
    timeout. With `dry_run`, each request is printed through `echo` and answered with placeholders."""

    def __init__(
        self,
        *,
        subdomain: str,
        email: str,
        api_token: str,
        api_url: str = "",
        timeout_s: float = 10.0,
        dry_run: bool = False,
        echo: Echo = print,
    ) -> None:
        if not (api_url or subdomain):
            raise InstallError("set ZENDESK_SUBDOMAIN (and ZENDESK_EMAIL, ZENDESK_API_TOKEN of an admin)")
        if not dry_run and not (email and api_token):
            raise InstallError("set ZENDESK_EMAIL and ZENDESK_API_TOKEN (an admin's API token) first")
        self.base = (api_url or f"https://{subdomain}.zendesk.com").rstrip("/")
        self.dry_run = dry_run
        self.echo = echo
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.auth = (f"{email}/token", api_token)
        self._session.headers["Accept"] = "application/json"

    def call(self, method: str, path_or_url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request; the JSON answer (`{}` for 204). Raises `InstallError` on any error status
        or network failure, naming the request."""
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        if self.dry_run:
            self.echo(f"{method} {url}" + (f"\n{json.dumps(body, indent=2)}" if body is not None else ""))
            return _dry_run_answer(method, urlsplit(url).path)
        if urlsplit(url).netloc != urlsplit(self.base).netloc:
            raise InstallError(f"refusing to follow a link to another host: {url}")
        try:
            response = self._session.request(method, url, json=body, timeout=self._timeout_s)
        except NETWORK_ERRORS as exc:
            raise InstallError(f"{method} {url}: {type(exc).__name__} (is ZENDESK_SUBDOMAIN right?)") from exc
        error = error_for_status(response.status_code, response.headers, vendor="Zendesk", what=f"{method} {urlsplit(url).path}")
        if error is not None:
            hint = {401: " (check ZENDESK_EMAIL and ZENDESK_API_TOKEN)",
                    403: " (the API user must be an admin to manage webhooks and triggers)"}.get(response.status_code, "")
            raise InstallError(f"{error}{hint}: {response.text[:300]}") from error
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise InstallError(f"{method} {url}: the answer is not JSON") from exc

    def list_all(self, path: str, key: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated list (`page[size]=100`, following `links.next` while
        `meta.has_more`)."""
        url: str | None = f"{self.base}{path}?{urlencode({**(params or {}), 'page[size]': '100'})}"
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            page = self.call("GET", url)
            items.extend(i for i in page.get(key) or () if isinstance(i, dict))
            url = (page.get("links") or {}).get("next") if (page.get("meta") or {}).get("has_more") else None
        return items


_PLACEHOLDERS = {
    "webhook": "<id of the new webhook>",
    "trigger": "<id of the new trigger>",
    "user": "<id of Deskhand's API user>",
    "secret": "<signing secret of the webhook>",
}


def _dry_run_answer(method: str, path: str) -> dict[str, Any]:
    if path.endswith("/users/me") or path.endswith("/users/me.json"):
        return {"user": {"id": _PLACEHOLDERS["user"], "role": "admin"}}
    if path.endswith("/signing_secret"):
        return {"signing_secret": {"secret": _PLACEHOLDERS["secret"], "algorithm": "SHA256"}}
    if method == "POST" and re.search(r"/webhooks(\.json)?$", path):
        return {"webhook": {"id": _PLACEHOLDERS["webhook"]}}
    if method == "POST" and re.search(r"/triggers(\.json)?$", path):
        return {"trigger": {"id": _PLACEHOLDERS["trigger"]}}
    return {}  # lists come back empty: a dry run shows the calls of a first install


@dataclass(frozen=True)
class ZendeskInstall:
    """What `install_zendesk` did: ids, the signing secret, and "created" / "updated" per object."""

    bot_user_id: str
    webhook_id: str
    webhook: str
    signing_secret: str
    trigger_id: str
    trigger: str


def install_zendesk(admin: ZendeskAdmin, *, base_url: str, configured_bot_user_id: str = "") -> ZendeskInstall:
    """Create or update Deskhand's webhook and trigger (see the module docstring); idempotent.

    An `http://` base URL is installed, after `plain_http_warning` is printed through `admin.echo`.
    Raises `InstallError` when a call fails, when a webhook named `WEBHOOK_NAME` exists but is an event
    subscription (its connection method cannot change), or when Zendesk does not return a secret.
    """
    url = endpoint(base_url, "zendesk")
    warning = plain_http_warning(url)
    if warning:
        admin.echo(warning)
    me = admin.call("GET", "/api/v2/users/me.json").get("user") or {}
    bot_user_id = str(me.get("id") or "")
    if not bot_user_id:
        raise InstallError("GET /api/v2/users/me returned no user: check the credentials")
    if configured_bot_user_id and configured_bot_user_id != bot_user_id and not admin.dry_run:
        admin.echo(f"note: ZENDESK_BOT_USER_ID is {configured_bot_user_id}, but the API user is {bot_user_id}; using {bot_user_id}")

    hooks = [w for w in admin.list_all("/api/v2/webhooks", "webhooks", {"filter[name_contains]": WEBHOOK_NAME})
             if w.get("name") == WEBHOOK_NAME]
    if hooks:
        hook = hooks[0]
        if list(hook.get("subscriptions") or []) != ["conditional_ticket_events"]:
            raise InstallError(
                f"webhook {hook.get('id')} is named {WEBHOOK_NAME!r} but subscribes to events; Zendesk cannot change "
                "a webhook's connection method: rename or delete it in Admin Center › Webhooks, then run this again"
            )
        webhook_id, webhook_done = str(hook["id"]), "updated"
        admin.call("PUT", f"/api/v2/webhooks/{webhook_id}", webhook_body(url))
    else:
        created = admin.call("POST", "/api/v2/webhooks", webhook_body(url)).get("webhook") or {}
        webhook_id, webhook_done = str(created.get("id") or ""), "created"
        if not webhook_id:
            raise InstallError("Zendesk created the webhook but returned no id")
    secret = str((admin.call("GET", f"/api/v2/webhooks/{webhook_id}/signing_secret").get("signing_secret") or {}).get("secret") or "")
    if not secret:
        raise InstallError(f"Zendesk returned no signing secret for webhook {webhook_id}")

    body = trigger_body(webhook_id, bot_user_id)
    triggers = [t for t in admin.list_all("/api/v2/triggers.json", "triggers") if t.get("title") == TRIGGER_TITLE]
    if triggers:
        trigger_id, trigger_done = str(triggers[0]["id"]), "updated"
        admin.call("PUT", f"/api/v2/triggers/{trigger_id}.json", body)  # a trigger update replaces it: send it all
    else:
        created = admin.call("POST", "/api/v2/triggers.json", body).get("trigger") or {}
        trigger_id, trigger_done = str(created.get("id") or ""), "created"
    return ZendeskInstall(bot_user_id, webhook_id, webhook_done, secret, trigger_id, trigger_done)


def uninstall_zendesk(admin: ZendeskAdmin) -> tuple[list[str], list[str]]:
    """Delete Deskhand's trigger(s), then its webhook(s); return (trigger ids, webhook ids) removed."""
    triggers = [str(t["id"]) for t in admin.list_all("/api/v2/triggers.json", "triggers") if t.get("title") == TRIGGER_TITLE]
    for trigger_id in triggers:
        admin.call("DELETE", f"/api/v2/triggers/{trigger_id}.json")
    hooks = [str(w["id"]) for w in admin.list_all("/api/v2/webhooks", "webhooks", {"filter[name_contains]": WEBHOOK_NAME})
             if w.get("name") == WEBHOOK_NAME]
    for webhook_id in hooks:
        admin.call("DELETE", f"/api/v2/webhooks/{webhook_id}")
    return triggers, hooks


# ---------------------------------------------------------------------------------------------------
# Freshdesk
# ---------------------------------------------------------------------------------------------------


def check_freshdesk(*, domain: str, api_key: str, api_url: str = "", timeout_s: float = 10.0) -> dict[str, Any]:
    """One call, `GET /api/v2/agents/me`: the agent the API key belongs to (Deskhand's agent). Raises
    `InstallError` when the domain or key is wrong."""
    if not (api_url or domain) or not api_key:
        raise InstallError("set FRESHDESK_DOMAIN and FRESHDESK_API_KEY (Deskhand's agent) first")
    host = domain if "." in domain else f"{domain}.freshdesk.com"
    url = (api_url or f"https://{host}").rstrip("/") + "/api/v2/agents/me"
    try:
        response = requests.get(url, auth=(api_key, "X"), headers={"Accept": "application/json"}, timeout=timeout_s)
    except NETWORK_ERRORS as exc:
        raise InstallError(f"GET {url}: {type(exc).__name__} (is FRESHDESK_DOMAIN right?)") from exc
    error = error_for_status(response.status_code, response.headers, vendor="Freshdesk", what="GET /api/v2/agents/me")
    if error is not None:
        hint = " (check FRESHDESK_API_KEY)" if response.status_code in (401, 403) else ""
        raise InstallError(f"{error}{hint}") from error
    try:
        agent = response.json()
    except ValueError as exc:
        raise InstallError(f"GET {url}: the answer is not JSON (is FRESHDESK_DOMAIN a Freshdesk domain?)") from exc
    if not isinstance(agent, dict) or agent.get("id") is None:
        raise InstallError(f"GET {url}: no agent in the answer")
    return agent


def freshdesk_rule(*, base_url: str, secret: str, bot_agent_id: str = "") -> str:
    """The two automation rules an admin creates in Freshdesk, written out step by step.

    One rule for new tickets, one for the requester's replies ("performed by Requester", so agents' and
    Deskhand's own updates never call it). Both trigger the same webhook: POST, JSON, the secret in the
    `X-Deskhand-Secret` header (or as the basic-auth password), body `freshdesk.WEBHOOK_BODY_TEMPLATE`.
    """
    url = endpoint(base_url, "freshdesk")
    action = f"""    Action: Trigger webhook
      Request type: POST
      Callback URL: {url}
      Requires authentication: no
      Add custom headers: yes
        {freshdesk.SECRET_HEADER}: {secret}
        (If your plan's form has no custom headers: Requires authentication = yes,
         Username = deskhand, Password = the secret above. Deskhand accepts either.)
      Encoding: JSON
      Content: Advanced, with this body:
        {freshdesk.WEBHOOK_BODY_TEMPLATE}"""
    guard = f"\n      (Deskhand's own agent{f', id {bot_agent_id},' if bot_agent_id else ''} is an agent, so its notes never match.)"
    return f"""Create these two rules in Freshdesk: Admin › Workflows › Automations.

1. Tab "Ticket Creation" › New rule › Name: Deskhand: new ticket
    Conditions: none (match every new ticket; narrow it here if Deskhand should see only some)
{action}

2. Tab "Ticket Updates" › New rule › Name: Deskhand: requester replied
    When an action performed by: Requester{guard}
    Involves any of these events: Reply is sent
    On tickets with these properties: none
{action}

Save both, and put them above rules that close or merge tickets."""


# ---------------------------------------------------------------------------------------------------
# .env
# ---------------------------------------------------------------------------------------------------


def update_env_file(path: Path, values: dict[str, str]) -> None:
    """Set `KEY=value` lines in a dotenv file: replace each existing (uncommented) `KEY=` line, append
    the rest, keep every other line as it is. A new file is created readable by its owner only."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    pending = dict(values)
    for i, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if "=" in line and key in pending and not line.lstrip().startswith("#"):
            lines[i] = f"{key}={pending.pop(key)}"
    lines.extend(f"{key}={value}" for key, value in pending.items())
    if not path.exists():
        path.touch(mode=0o600)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
