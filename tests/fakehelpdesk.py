"""A fake Zendesk + Freshdesk for tests: in-memory tickets behind the endpoints Deskhand's adapters use.

    with FakeHelpdesk() as fake:
        fake.add_zendesk_ticket(7, "Refund?", requester_id=501, messages=[(501, "requester", "Hi", True)])
        zd = ZendeskHelpdesk(subdomain="acme", email="bot@acme.test", api_token="t", api_url=fake.url,
                             bot_user_id=str(fake.zendesk_bot_user_id))

It listens on 127.0.0.1 (port 0, a `ThreadingHTTPServer` in a daemon thread). Zendesk paths end in
`.json` (as zenpy builds them), Freshdesk paths do not; `fake.zendesk_url` / `fake.freshdesk_url` (the
root URL plus `/zendesk` or `/freshdesk`) remove any doubt. The same state can instead be served to
`requests` through the `responses` library with `fake.mock(rsps, zendesk_url=..., freshdesk_url=...)`.

Endpoints:
- Zendesk: GET tickets/{id}.json · GET tickets/{id}/comments.json (cursor pages: page[size], page[after],
  meta.has_more, links.next; include=users sideloads) · GET users/show_many.json?ids= · GET users/me.json ·
  PUT tickets/{id}.json (comment → a new comment by the bot user, audit with a Comment event; group_id;
  priority (low/normal/high/urgent, else 422); `tags` REPLACES, as on Zendesk; `additional_tags` adds,
  unless `zendesk_additional_tags=False`, which plays the accounts that ignore it on a single-ticket
  update; `safe_update` + `updated_stamp` → 409 UpdateConflict when the stamp is not the ticket's
  `updated_at`; at most `zendesk_ticket_updates_limit` updates per ticket, then 429 + Retry-After, each
  answer with a Zendesk-RateLimit-Per-Ticket-Updates header) · PUT tickets/{id}/tags.json (adds) · webhooks: GET (filter[name_contains], cursor pages), POST,
  GET/PUT/DELETE {id}, GET {id}/signing_secret · triggers: GET (cursor pages), POST, GET/PUT/DELETE {id}.
- Freshdesk: GET tickets/{id} · GET tickets/{id}/conversations (per_page, page, `Link: rel="next"`) ·
  POST tickets/{id}/notes (by the bot agent; `private` defaults to true) · PUT tickets/{id} (`tags` replaces;
  `priority` must be 1–4, else 400) · GET agents/me.
Every Freshdesk response carries X-Ratelimit-* headers. Requests without an Authorization header get 401.
`fail_next` injects failures (status, headers, body); `before_next` runs a function just before a request
is answered (an agent editing the ticket while Deskhand works); `requests` logs every request.
"""
from __future__ import annotations

import html as html_lib
import json
import re
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qs, urlencode, urlsplit

from integrations.local import html_to_text

MessageSpec = tuple[Any, str, str, bool]  # (author_id, role, body, public)

_EPOCH = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
_ZENDESK_ROLES = {"requester": "end-user", "end-user": "end-user", "agent": "agent", "admin": "admin"}


class FakeHelpdesk:
    """In-memory Zendesk and Freshdesk. See the module docstring for the endpoints."""

    def __init__(
        self,
        *,
        zendesk_bot_user_id: int = 900001,
        freshdesk_bot_agent_id: int = 800001,
        page_size: int | None = None,
        zendesk_additional_tags: bool = True,
        zendesk_ticket_updates_limit: int = 30,
    ) -> None:
        """`page_size` caps every page (Zendesk `page[size]`, Freshdesk `per_page`) to test pagination."""
        self.zendesk_bot_user_id = zendesk_bot_user_id
        self.freshdesk_bot_agent_id = freshdesk_bot_agent_id
        self.page_size = page_size
        self.zendesk_additional_tags = zendesk_additional_tags
        self.zendesk_ticket_updates_limit = zendesk_ticket_updates_limit
        self.freshdesk_ratelimit_total = 4000
        self.freshdesk_ratelimit_used = 0
        self.requests: list[tuple[str, str, Any]] = []
        self._hooks: list[dict[str, Any]] = []
        self._zd_updates: dict[int, int] = {}
        self._zd_webhooks: dict[str, dict[str, Any]] = {}
        self._zd_triggers: dict[int, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._ticks = 0
        self._next_id = 10_000
        self._zd_tickets: dict[int, dict[str, Any]] = {}
        self._zd_comments: dict[int, list[dict[str, Any]]] = {}
        self._zd_users: dict[int, dict[str, Any]] = {
            zendesk_bot_user_id: {"id": zendesk_bot_user_id, "name": "Deskhand", "role": "agent", "locale": "en-US"}
        }
        self._fd_tickets: dict[int, dict[str, Any]] = {}
        self._fd_conversations: dict[int, list[dict[str, Any]]] = {}
        self._failures: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "FakeHelpdesk":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                base = f"http://{self.headers.get('Host') or '127.0.0.1'}"
                status, headers, payload = fake.handle(self.command, base + self.path, dict(self.headers), body)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval keeps stop() (which waits for the serve loop to notice) fast.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fakehelpdesk", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeHelpdesk":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeHelpdesk is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def zendesk_url(self) -> str:
        return self.url + "/zendesk"

    @property
    def freshdesk_url(self) -> str:
        return self.url + "/freshdesk"

    def mock(self, rsps: Any, *, zendesk_url: str = "", freshdesk_url: str = "") -> None:
        """Serve this state through a `responses.RequestsMock` at the given base URLs (no server)."""
        for vendor, base in (("zendesk", zendesk_url), ("freshdesk", freshdesk_url)):
            if not base:
                continue
            pattern = re.compile(re.escape(base.rstrip("/")) + r"/.*")
            for method in ("GET", "PUT", "POST", "DELETE", "PATCH"):
                rsps.add_callback(method, pattern, callback=self._responses_callback(vendor, base.rstrip("/")))

    def _responses_callback(self, vendor: str, base: str):
        def callback(request: Any) -> tuple[int, dict[str, str], bytes]:
            body = request.body or b""
            if isinstance(body, str):
                body = body.encode()
            return self.handle(request.method, request.url, dict(request.headers), body, vendor=vendor, base=base)

        return callback

    # --- seeding -------------------------------------------------------------------------------

    def add_zendesk_ticket(
        self,
        ticket_id: int,
        subject: str,
        requester_id: Any,
        messages: Iterable[MessageSpec] = (),
        tags: Iterable[str] = (),
        *,
        group_id: int | None = None,
        locale: str = "en-US",
        priority: str | None = None,
    ) -> None:
        """A Zendesk ticket with one comment per message; roles: requester/end-user, agent, admin."""
        with self._lock:
            created = self._now()
            requester = _as_id(requester_id)
            self._add_zd_user(requester, "end-user", locale)
            comments = []
            for author_id, role, body, public in messages:
                author = _as_id(author_id)
                self._add_zd_user(author, _ZENDESK_ROLES[role], locale)
                comments.append(self._zd_comment(author, body, _paragraph(body), public))
            first = comments[0]["body"] if comments else ""
            self._zd_tickets[int(ticket_id)] = {
                "id": int(ticket_id),
                "url": f"https://fake.zendesk.com/api/v2/tickets/{int(ticket_id)}.json",
                "subject": subject,
                "raw_subject": subject,
                "description": first,
                "status": "open",
                "priority": priority,
                "type": None,
                "requester_id": requester,
                "submitter_id": requester,
                "assignee_id": None,
                "group_id": group_id,
                "tags": list(dict.fromkeys(tags)),
                "custom_fields": [],
                "via": {"channel": "web"},
                "created_at": _iso(created),
                "updated_at": _iso(self._now()),
            }
            self._zd_comments[int(ticket_id)] = comments

    def add_freshdesk_ticket(
        self,
        ticket_id: int,
        subject: str,
        requester_id: Any,
        messages: Iterable[MessageSpec] = (),
        tags: Iterable[str] = (),
        *,
        group_id: int | None = None,
        priority: int = 1,
    ) -> None:
        """A Freshdesk ticket: a first requester message becomes the description, the rest conversations.
        `priority` is Freshdesk's number (1 low, 2 medium, 3 high, 4 urgent)."""
        with self._lock:
            created = self._now()
            requester = _as_id(requester_id)
            messages = list(messages)
            description = ""
            if messages and messages[0][1] in ("requester", "end-user"):
                description = messages.pop(0)[2]
            self._fd_tickets[int(ticket_id)] = {
                "id": int(ticket_id),
                "subject": subject,
                "description": _paragraph(description) if description else "",
                "description_text": description,
                "requester_id": requester,
                "responder_id": None,
                "group_id": group_id,
                "status": 2,
                "priority": priority,
                "source": 2,
                "type": None,
                "spam": False,
                "tags": list(dict.fromkeys(tags)),
                "custom_fields": {},
                "created_at": _iso(created),
                "updated_at": _iso(created),
            }
            conversations = []
            for author_id, role, body, public in messages:
                from_requester = role in ("requester", "end-user")
                conversations.append(
                    self._fd_conversation(
                        int(ticket_id),
                        _as_id(author_id),
                        _paragraph(body),
                        private=not public,
                        incoming=from_requester,
                        source=0 if public else 2,
                    )
                )
            self._fd_conversations[int(ticket_id)] = conversations

    def add_zendesk_comment(self, ticket_id: int, author_id: Any, role: str, body: str, public: bool) -> None:
        """A later comment on an existing Zendesk ticket (e.g. the requester following up)."""
        with self._lock:
            author = _as_id(author_id)
            self._add_zd_user(author, _ZENDESK_ROLES[role], "en-US")
            self._zd_comments[int(ticket_id)].append(self._zd_comment(author, body, _paragraph(body), public))

    def add_freshdesk_reply(self, ticket_id: int, requester_id: Any, body: str) -> None:
        """A later public reply from the requester on an existing Freshdesk ticket."""
        with self._lock:
            self._fd_conversations[int(ticket_id)].append(
                self._fd_conversation(int(ticket_id), _as_id(requester_id), _paragraph(body), private=False, incoming=True, source=0)
            )

    # --- inspection and failure injection ---------------------------------------------------------

    def zendesk_notes(self, ticket_id: int) -> list[dict[str, Any]]:
        """Comments posted through the API (PUT tickets/{id}.json with a comment), as stored."""
        with self._lock:
            return [_public_view(c) for c in self._zd_comments.get(int(ticket_id), []) if c.get("_posted")]

    def freshdesk_notes(self, ticket_id: int) -> list[dict[str, Any]]:
        """Notes posted through POST tickets/{id}/notes, as stored."""
        with self._lock:
            return [_public_view(c) for c in self._fd_conversations.get(int(ticket_id), []) if c.get("_posted")]

    def zendesk_comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [_public_view(c) for c in self._zd_comments.get(int(ticket_id), [])]

    def tags(self, vendor: str, ticket_id: int) -> list[str]:
        with self._lock:
            tickets = self._zd_tickets if vendor == "zendesk" else self._fd_tickets
            return list(tickets[int(ticket_id)]["tags"])

    def group_id(self, vendor: str, ticket_id: int) -> Any:
        with self._lock:
            tickets = self._zd_tickets if vendor == "zendesk" else self._fd_tickets
            return tickets[int(ticket_id)]["group_id"]

    def priority(self, vendor: str, ticket_id: int) -> Any:
        """The ticket's priority as the vendor stores it (Zendesk: a name or None; Freshdesk: 1–4)."""
        with self._lock:
            tickets = self._zd_tickets if vendor == "zendesk" else self._fd_tickets
            return tickets[int(ticket_id)]["priority"]

    def set_priority(self, vendor: str, ticket_id: int, priority: Any) -> None:
        """An agent changing the ticket's priority (the ticket's `updated_at` moves, as on the vendor)."""
        with self._lock:
            tickets = self._zd_tickets if vendor == "zendesk" else self._fd_tickets
            tickets[int(ticket_id)]["priority"] = priority
            tickets[int(ticket_id)]["updated_at"] = _iso(self._now())

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `times` requests matching `method` and `path_regex` (re.search on the path)
        with `status`, `headers` and a JSON `body` (e.g. 429 + {"Retry-After": "7"}, 500, 409, 422 with
        Zendesk's error document); the default body is `{"error": "injected", "status": …}`."""
        with self._lock:
            self._failures.append(
                {"method": method.upper(), "regex": re.compile(path_regex), "status": status,
                 "times": times, "headers": dict(headers or {}), "body": body}
            )

    def before_next(self, method: str, path_regex: str, action: Any) -> None:
        """Call `action()` once, just before answering the next request matching `method` and
        `path_regex` — e.g. an agent adding a tag between Deskhand's read and its write."""
        with self._lock:
            self._hooks.append({"method": method.upper(), "regex": re.compile(path_regex), "action": action})

    def add_zendesk_tags(self, ticket_id: int, tags: Iterable[str]) -> None:
        """Tags added by someone else (an agent, a trigger)."""
        with self._lock:
            ticket = self._zd_tickets[int(ticket_id)]
            ticket["tags"] = list(dict.fromkeys([*ticket["tags"], *tags]))

    def add_freshdesk_tags(self, ticket_id: int, tags: Iterable[str]) -> None:
        """Tags added by someone else (an agent, an automation rule)."""
        with self._lock:
            ticket = self._fd_tickets[int(ticket_id)]
            ticket["tags"] = list(dict.fromkeys([*ticket["tags"], *tags]))

    def zendesk_webhooks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(w) for w in self._zd_webhooks.values()]

    def zendesk_triggers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(t) for t in self._zd_triggers.values()]

    def add_zendesk_webhook(self, name: str, endpoint: str, subscriptions: Iterable[str] = ("conditional_ticket_events",)) -> str:
        """A webhook that already exists (e.g. from an earlier install)."""
        with self._lock:
            return self._zd_create_webhook({"name": name, "endpoint": endpoint, "http_method": "POST",
                                            "request_format": "json", "status": "active",
                                            "subscriptions": list(subscriptions)})["id"]

    # --- request handling ------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        vendor: str | None = None,
        base: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body bytes)."""
        parts = urlsplit(url)
        path, query = parts.path, parse_qs(parts.query)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        with self._lock:
            self.requests.append((method.upper(), path + (f"?{parts.query}" if parts.query else ""), data))
            if base is None:
                base = f"{parts.scheme}://{parts.netloc}"
                for prefix in ("/zendesk", "/freshdesk"):
                    if path.startswith(prefix + "/"):
                        vendor, base, path = prefix[1:], base + prefix, path[len(prefix):]
                        break
                else:
                    vendor = "zendesk" if path.endswith(".json") else "freshdesk"
            else:
                path = path[len(urlsplit(base).path):]
            hook = self._take_hook(method.upper(), parts.path)
            if hook is not None:
                hook()
            injected = self._take_failure(method.upper(), parts.path)
            if injected is not None:
                status, extra, payload = injected
                if payload is None:
                    payload = {"error": "injected", "status": status}
                return status, {"Content-Type": "application/json", **extra}, _dump(payload)
            if not any(k.lower() == "authorization" for k in headers):
                return 401, {"Content-Type": "application/json"}, _dump({"error": "Couldn't authenticate you"})
            if vendor == "zendesk":
                return self._zendesk(method.upper(), path, query, data, base)
            status, out_headers, payload = self._freshdesk(method.upper(), path, query, data, base)
            # One "minute" of Freshdesk's per-minute budget; `freshdesk_ratelimit_used` can be set by a test.
            cost = 2 if "conversations" in ",".join(query.get("include", [])) else 1
            self.freshdesk_ratelimit_used += cost
            remaining = max(0, self.freshdesk_ratelimit_total - self.freshdesk_ratelimit_used)
            out_headers.update({"X-Ratelimit-Total": str(self.freshdesk_ratelimit_total),
                                "X-Ratelimit-Remaining": str(remaining), "X-Ratelimit-Used-CurrentRequest": str(cost)})
            return status, out_headers, payload

    def _take_failure(self, method: str, path: str) -> tuple[int, dict[str, str], Any] | None:
        for failure in self._failures:
            if failure["method"] in (method, "*") and failure["regex"].search(path):
                failure["times"] -= 1
                if failure["times"] <= 0:
                    self._failures.remove(failure)
                return failure["status"], failure["headers"], failure["body"]
        return None

    def _take_hook(self, method: str, path: str) -> Any:
        for hook in self._hooks:
            if hook["method"] in (method, "*") and hook["regex"].search(path):
                self._hooks.remove(hook)
                return hook["action"]
        return None

    # Zendesk ------------------------------------------------------------------------------------

    def _zendesk(self, method: str, path: str, query: dict, data: Any, base: str):
        m = re.fullmatch(r"/api/v2/tickets/(\d+)(?:\.json)?", path)
        if m:
            ticket = self._zd_tickets.get(int(m[1]))
            if ticket is None:
                return _zd_not_found()
            if method == "GET":
                return _json(200, {"ticket": ticket})
            if method == "PUT":
                changes = (data or {}).get("ticket") or {}
                if changes.get("safe_update") and changes.get("updated_stamp") != ticket["updated_at"]:
                    return _json(409, {"error": "UpdateConflict", "description": "Safe Update prevented the update due to "
                                       "outdated ticket data. Please fetch the latest ticket data and try again."})
                if "priority" in changes and changes["priority"] not in ("low", "normal", "high", "urgent", None):
                    return _json(422, {"error": "RecordInvalid", "description": "Record validation errors",
                                       "details": {"priority": [{"description": "Priority: is not valid"}]}})
                used = self._zd_updates.get(ticket["id"], 0)
                limit = self.zendesk_ticket_updates_limit
                if used >= limit:
                    status, headers, payload = _json(429, {"error": "TooManyRequests",
                                                           "description": "per-ticket update limit reached"})
                    headers.update({"Retry-After": "120", "Zendesk-RateLimit-Per-Ticket-Updates":
                                    f"total={limit}; remaining=0; resets=120"})
                    return status, headers, payload
                self._zd_updates[ticket["id"]] = used + 1
                status, headers, payload = self._zd_update(ticket, changes)
                headers["Zendesk-RateLimit-Per-Ticket-Updates"] = f"total={limit}; remaining={limit - used - 1}; resets=600"
                return status, headers, payload
        m = re.fullmatch(r"/api/v2/tickets/(\d+)/comments(?:\.json)?", path)
        if m and method == "GET":
            if int(m[1]) not in self._zd_tickets:
                return _zd_not_found()
            return self._zd_comments_page(int(m[1]), query, base)
        m = re.fullmatch(r"/api/v2/tickets/(\d+)/tags(?:\.json)?", path)
        if m and method == "PUT":
            ticket = self._zd_tickets.get(int(m[1]))
            if ticket is None:
                return _zd_not_found()
            ticket["tags"] = list(dict.fromkeys([*ticket["tags"], *((data or {}).get("tags") or [])]))
            ticket["updated_at"] = _iso(self._now())
            return _json(200, {"tags": ticket["tags"]})
        if re.fullmatch(r"/api/v2/users/show_many(?:\.json)?", path) and method == "GET":
            ids = [int(i) for i in ",".join(query.get("ids", [])).split(",") if i.strip().isdigit()]
            return _json(200, {"users": [self._zd_users[i] for i in ids if i in self._zd_users]})
        if re.fullmatch(r"/api/v2/users/me(?:\.json)?", path) and method == "GET":
            return _json(200, {"user": {**self._zd_users[self.zendesk_bot_user_id], "email": "deskhand@fake.test",
                                        "role": "admin"}})
        if path.startswith("/api/v2/webhooks"):
            return self._zd_webhooks_api(method, path, query, data, base)
        if path.startswith("/api/v2/triggers"):
            return self._zd_triggers_api(method, path, query, data, base)
        return _json(404, {"error": "InvalidEndpoint", "description": f"Not found: {method} {path}"})

    def _zd_webhooks_api(self, method: str, path: str, query: dict, data: Any, base: str):
        if re.fullmatch(r"/api/v2/webhooks(?:\.json)?", path):
            if method == "GET":
                wanted = (query.get("filter[name_contains]") or [""])[0].lower()
                items = [w for w in self._zd_webhooks.values() if wanted in w["name"].lower()]
                return self._zd_cursor_page(items, "webhooks", query, base + "/api/v2/webhooks")
            if method == "POST":
                webhook = (data or {}).get("webhook") or {}
                if not webhook.get("name") or not webhook.get("endpoint"):
                    return _json(400, {"errors": [{"code": "InvalidValue", "title": "name and endpoint are required"}]})
                return _json(201, {"webhook": self._zd_create_webhook(webhook)})
        m = re.fullmatch(r"/api/v2/webhooks/([\w-]+)(/signing_secret)?(?:\.json)?", path)
        if m and m[1] in self._zd_webhooks:
            webhook = self._zd_webhooks[m[1]]
            if m[2] and method == "GET":
                return _json(200, {"signing_secret": {"secret": webhook["_secret"], "algorithm": "SHA256"}})
            if not m[2] and method == "GET":
                return _json(200, {"webhook": _public_view(webhook)})
            if not m[2] and method in ("PUT", "PATCH"):
                changes = (data or {}).get("webhook") or {}
                if "subscriptions" in changes and changes["subscriptions"] != webhook["subscriptions"]:
                    return _json(400, {"errors": [{"code": "InvalidValue", "title": "connection method cannot change"}]})
                webhook.update({k: v for k, v in changes.items() if k != "id"})
                webhook["updated_at"] = _iso(self._now())
                return 204, {}, b""
            if not m[2] and method == "DELETE":
                if any(_trigger_uses(t, m[1]) for t in self._zd_triggers.values()):
                    return _json(400, {"errors": [{"code": "WebhookInUse", "title": "webhook is used by a trigger"}]})
                del self._zd_webhooks[m[1]]
                return 204, {}, b""
        return _json(404, {"errors": [{"code": "WebhookNotFound", "title": f"Not found: {method} {path}"}]})

    def _zd_create_webhook(self, webhook: Mapping[str, Any]) -> dict[str, Any]:
        webhook_id = f"01FAKEWEBHOOK{self._new_id()}"
        record = {**webhook, "id": webhook_id, "created_at": _iso(self._now()), "created_by": str(self.zendesk_bot_user_id),
                  "_secret": f"fake-signing-secret-{webhook_id[-5:]}-c2VjcmV0"}
        self._zd_webhooks[webhook_id] = record
        return _public_view(record)

    def _zd_triggers_api(self, method: str, path: str, query: dict, data: Any, base: str):
        if re.fullmatch(r"/api/v2/triggers(?:\.json)?", path):
            if method == "GET":
                return self._zd_cursor_page(list(self._zd_triggers.values()), "triggers", query, base + "/api/v2/triggers.json")
            if method == "POST":
                trigger = (data or {}).get("trigger") or {}
                if not trigger.get("actions"):
                    return _json(422, {"error": "RecordInvalid", "description": "Trigger must contain at least one action"})
                missing = [a["value"][0] for a in trigger["actions"] if a.get("field") == "notification_webhook"
                           and a["value"][0] not in self._zd_webhooks]
                if missing:
                    return _json(422, {"error": "RecordInvalid", "description": f"unknown webhook {missing[0]}"})
                trigger_id = self._new_id()
                self._zd_triggers[trigger_id] = {**trigger, "id": trigger_id, "active": trigger.get("active", True),
                                                 "created_at": _iso(self._now()), "updated_at": _iso(self._now())}
                return _json(201, {"trigger": self._zd_triggers[trigger_id]})
        m = re.fullmatch(r"/api/v2/triggers/(\d+)(?:\.json)?", path)
        if m and int(m[1]) in self._zd_triggers:
            trigger = self._zd_triggers[int(m[1])]
            if method == "GET":
                return _json(200, {"trigger": trigger})
            if method == "PUT":
                changes = (data or {}).get("trigger") or {}
                if not changes.get("actions"):  # an update replaces the trigger: actions must be resent
                    return _json(422, {"error": "RecordInvalid", "description": "Trigger must contain at least one action"})
                trigger.update({k: v for k, v in changes.items() if k != "id"})
                trigger["updated_at"] = _iso(self._now())
                return _json(200, {"trigger": trigger})
            if method == "DELETE":
                del self._zd_triggers[int(m[1])]
                return 204, {}, b""
        return _json(404, {"error": "RecordNotFound", "description": "Not found"})

    def _zd_cursor_page(self, items: list[dict[str, Any]], key: str, query: dict, url: str):
        size = min(int((query.get("page[size]") or ["100"])[0]), 100)
        if self.page_size:
            size = min(size, self.page_size)
        start = int((query.get("page[after]") or ["0"])[0] or 0)
        page = items[start : start + size]
        has_more = start + size < len(items)
        params = {k: v[0] for k, v in query.items() if k != "page[after]"}
        params["page[after]"] = str(start + size)
        return _json(200, {key: [_public_view(i) for i in page],
                           "meta": {"has_more": has_more, "after_cursor": str(start + size) if has_more else None},
                           "links": {"next": f"{url}?{urlencode(params)}" if has_more else None}})

    def _zd_update(self, ticket: dict[str, Any], changes: Mapping[str, Any]):
        events: list[dict[str, Any]] = []
        audit_id = self._new_id()
        comment = changes.get("comment")
        if isinstance(comment, Mapping):
            html_body = comment.get("html_body")
            text = _text(html_body) if html_body is not None else str(comment.get("body") or "")
            author = _as_id(comment.get("author_id") or self.zendesk_bot_user_id)
            # Zendesk: without an explicit `public`, a comment keeps the ticket's initial value (public).
            public = comment.get("public", True)
            new = self._zd_comment(author, text, html_body if html_body is not None else _paragraph(text), public)
            new["_posted"] = True
            new["audit_id"] = audit_id
            self._zd_comments[ticket["id"]].append(new)
            events.append({"id": new["id"], "type": "Comment", "author_id": author, "body": new["body"],
                           "html_body": new["html_body"], "plain_body": new["plain_body"], "public": new["public"],
                           "attachments": [], "audit_id": new["audit_id"]})
        for field in ("group_id", "status", "priority", "assignee_id", "tags"):
            if field in changes:  # note: `tags` here REPLACES the ticket's tags, as on Zendesk
                events.append({"id": self._new_id(), "type": "Change", "field_name": field,
                               "value": changes[field], "previous_value": ticket.get(field)})
                ticket[field] = list(changes[field]) if field == "tags" else changes[field]
        added = [t for t in changes.get("additional_tags") or () if t not in ticket["tags"]]
        if added and self.zendesk_additional_tags:  # adds, never replaces
            new_tags = [*ticket["tags"], *added]
            events.append({"id": self._new_id(), "type": "Change", "field_name": "tags",
                           "value": new_tags, "previous_value": list(ticket["tags"])})
            ticket["tags"] = new_tags
        ticket["updated_at"] = _iso(self._now())
        audit = {"id": audit_id, "ticket_id": ticket["id"], "author_id": self.zendesk_bot_user_id,
                 "created_at": ticket["updated_at"], "via": {"channel": "api"}, "events": events}
        return _json(200, {"ticket": ticket, "audit": audit})

    def _zd_comments_page(self, ticket_id: int, query: dict, base: str):
        comments = self._zd_comments[ticket_id]
        size = min(int((query.get("page[size]") or ["100"])[0]), 100)
        if self.page_size:
            size = min(size, self.page_size)
        start = int((query.get("page[after]") or ["0"])[0] or 0)
        page = comments[start : start + size]
        has_more = start + size < len(comments)
        payload: dict[str, Any] = {
            "comments": [_public_view(c) for c in page],
            "meta": {"has_more": has_more, "after_cursor": str(start + size) if has_more else None,
                     "before_cursor": str(start) if start else None},
            "links": {"next": None, "prev": None},
        }
        if has_more:
            params = {k: v[0] for k, v in query.items() if k != "page[after]"}
            params["page[after]"] = str(start + size)
            payload["links"]["next"] = f"{base}/api/v2/tickets/{ticket_id}/comments.json?{urlencode(params)}"
        if "users" in ",".join(query.get("include", [])):
            ids = list(dict.fromkeys(c["author_id"] for c in page))
            payload["users"] = [self._zd_users[i] for i in ids if i in self._zd_users]
        return _json(200, payload)

    def _zd_comment(self, author: Any, text: str, html_body: str, public: bool) -> dict[str, Any]:
        return {"id": self._new_id(), "type": "Comment", "author_id": author, "body": text, "plain_body": text,
                "html_body": html_body, "public": bool(public), "attachments": [], "audit_id": self._new_id(),
                "via": {"channel": "api"}, "metadata": {"system": {}}, "created_at": _iso(self._now())}

    def _add_zd_user(self, user_id: Any, role: str, locale: str) -> None:
        if user_id not in self._zd_users:
            self._zd_users[user_id] = {"id": user_id, "name": f"User {user_id}", "role": role, "locale": locale}

    # Freshdesk ----------------------------------------------------------------------------------

    def _freshdesk(self, method: str, path: str, query: dict, data: Any, base: str):
        m = re.fullmatch(r"/api/v2/tickets/(\d+)", path)
        if m:
            ticket = self._fd_tickets.get(int(m[1]))
            if ticket is None:
                return 404, {}, b""
            if method == "GET":
                return _json(200, ticket)
            if method == "PUT":
                changes = data or {}
                if "priority" in changes and changes["priority"] not in (1, 2, 3, 4):
                    return _json(400, {"description": "Validation failed", "errors": [
                        {"field": "priority", "message": "It should be one of these values: '1,2,3,4'", "code": "invalid_value"}]})
                for field in ("tags", "group_id", "status", "priority", "responder_id"):
                    if field in changes:  # `tags` REPLACES, as Freshdesk does
                        ticket[field] = changes[field]
                ticket["updated_at"] = _iso(self._now())
                return _json(200, ticket)
        m = re.fullmatch(r"/api/v2/tickets/(\d+)/conversations", path)
        if m and method == "GET":
            ticket_id = int(m[1])
            if ticket_id not in self._fd_tickets:
                return 404, {}, b""
            per_page = min(int((query.get("per_page") or ["30"])[0]), 100)
            if self.page_size:
                per_page = min(per_page, self.page_size)
            page_no = int((query.get("page") or ["1"])[0])
            items = self._fd_conversations[ticket_id]
            page = items[(page_no - 1) * per_page : page_no * per_page]
            headers = {"Content-Type": "application/json"}
            if page_no * per_page < len(items):
                next_url = f"{base}/api/v2/tickets/{ticket_id}/conversations?" + urlencode(
                    {"per_page": per_page, "page": page_no + 1}
                )
                headers["Link"] = f'<{next_url}>; rel="next"'
            return 200, headers, _dump([_public_view(c) for c in page])
        if path == "/api/v2/agents/me" and method == "GET":
            return _json(200, {"id": self.freshdesk_bot_agent_id, "available": True, "occasional": False,
                               "ticket_scope": 1, "contact": {"name": "Deskhand", "email": "deskhand@fake.test"}})
        m = re.fullmatch(r"/api/v2/tickets/(\d+)/notes", path)
        if m and method == "POST":
            ticket_id = int(m[1])
            if ticket_id not in self._fd_tickets:
                return 404, {}, b""
            note_data = data or {}
            note = self._fd_conversation(
                ticket_id,
                _as_id(note_data.get("user_id") or self.freshdesk_bot_agent_id),
                str(note_data.get("body") or ""),
                private=bool(note_data.get("private", True)),  # Freshdesk's default is private
                incoming=bool(note_data.get("incoming", False)),
                source=2,
            )
            note["_posted"] = True
            self._fd_conversations[ticket_id].append(note)
            return _json(201, _public_view(note))
        return 404, {}, b""

    def _fd_conversation(self, ticket_id: int, user_id: Any, body_html: str, *, private: bool,
                         incoming: bool, source: int) -> dict[str, Any]:
        at = _iso(self._now())
        return {"id": self._new_id(), "ticket_id": ticket_id, "user_id": user_id, "body": body_html,
                "body_text": _text(body_html), "private": private, "incoming": incoming, "source": source,
                "support_email": None, "to_emails": [], "attachments": [], "created_at": at, "updated_at": at}

    # Helpers ----------------------------------------------------------------------------------

    def _now(self) -> datetime:
        self._ticks += 1
        return _EPOCH + timedelta(minutes=self._ticks)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id


def _as_id(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _paragraph(text: str) -> str:
    return f"<p>{html_lib.escape(text)}</p>"


def _text(html: str) -> str:
    return html_to_text(html or "")


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _public_view(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _dump(data: Any) -> bytes:
    return json.dumps(data).encode()


def _json(status: int, data: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, _dump(data)


def _zd_not_found() -> tuple[int, dict[str, str], bytes]:
    return _json(404, {"error": "RecordNotFound", "description": "Not found"})


def _trigger_uses(trigger: Mapping[str, Any], webhook_id: str) -> bool:
    return any(a.get("field") == "notification_webhook" and a.get("value", [None])[0] == webhook_id
               for a in trigger.get("actions") or ())
