"""A helpdesk made of JSON files in a folder, for the demo and for dry runs.

A ticket is `<root>/<id>.json`:

    {"id": 1001, "subject": "…", "requester": {"id": "u-1", "name": "…", "email": "…"},
     "status": "open", "priority": "normal", "tags": ["web"], "group_id": null, "locale": "en",
     "messages": [{"id": "m1", "author_id": "u-1", "author_role": "requester", "public": true,
                   "created_at": "2026-11-20T10:00:00Z", "body": "…", "html": "…",
                   "attachments": [{"file_name": "photo.jpg"}]}]}

A message's text is `body`, or the visible text of `html` when `body` is empty; `attachments` is only
counted.

`post_note` appends a private agent message to the file and also writes the note's HTML beside it as
`<root>/<id>.note-<n>.html`, so a person can open what Deskhand would have posted. Every write replaces
the file atomically (temp file + `os.replace`) under an exclusive `fcntl` lock on `<root>/.<id>.lock`, so
threads and processes never lose each other's changes and readers never see half a file.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from bs4 import BeautifulSoup

from integrations.base import PRIORITIES, Message, PermanentHelpdeskError, Ticket, TicketNotFound, raises_priority
from integrations.http import parse_time

NAME = "local"
NOTE_AUTHOR_ID = "deskhand"
_ROLES = ("requester", "agent", "system")


class LocalHelpdesk:
    """`Helpdesk` over a folder of ticket JSON files (see the module docstring for the format).

    Raises `TicketNotFound` for a missing `<id>.json` and `PermanentHelpdeskError` for a file that is
    not a valid ticket. Never touches the network.
    """

    name = NAME

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._thread_lock = threading.Lock()  # flock also serializes threads; this keeps it cheap

    def fetch_ticket(self, ticket_id: int) -> Ticket:
        """The ticket and its messages, oldest first (ties keep file order). Raises TicketNotFound,
        and PermanentHelpdeskError for a file that is not a ticket or holds another ticket's id."""
        ticket = ticket_from_json(self._read(int(ticket_id)))
        if ticket.id != int(ticket_id):
            raise PermanentHelpdeskError(f"{self._path(ticket_id)} holds ticket {ticket.id}, not {ticket_id}")
        return ticket

    def post_note(
        self,
        ticket_id: int,
        html: str,
        *,
        tags: Sequence[str] = (),
        group_id: str | None = None,
        priority: str | None = None,
    ) -> str:
        """Append a private agent message `note-<n>` and write `<id>.note-<n>.html`; return `note-<n>`.

        `tags` are merged into the ticket's tags, `group_id` set and `"priority"` raised to `priority`
        when it is lower or absent (never lowered) in the same locked write. Raises
        `PermanentHelpdeskError` for a priority other than low, normal, high, urgent.
        """
        if priority is not None and priority not in PRIORITIES:
            raise PermanentHelpdeskError(f"priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")
        with self._locked(int(ticket_id)):
            data = self._read(int(ticket_id))
            if tags:
                data["tags"] = list(dict.fromkeys(t for t in (*(data.get("tags") or []), *tags) if t))
            if group_id:
                data["group_id"] = group_id
            if raises_priority(data.get("priority"), priority):
                data["priority"] = priority
            messages = data.setdefault("messages", [])
            n = 1 + sum(1 for m in messages if str(m.get("id", "")).startswith("note-"))
            note_id = f"note-{n}"
            messages.append(
                {
                    "id": note_id,
                    "author_id": NOTE_AUTHOR_ID,
                    "author_role": "agent",
                    "public": False,
                    "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                    "body": html_to_text(html),
                    "html": html,
                }
            )
            _atomic_write(self.root / f"{int(ticket_id)}.{note_id}.html", html)
            self._write(int(ticket_id), data)
        return note_id

    def add_tags(self, ticket_id: int, tags: Sequence[str]) -> None:
        """Merge `tags` into the ticket's tags: existing first, no duplicates."""
        with self._locked(int(ticket_id)):
            data = self._read(int(ticket_id))
            data["tags"] = list(dict.fromkeys(t for t in (*(data.get("tags") or []), *tags) if t))
            self._write(int(ticket_id), data)

    def set_group(self, ticket_id: int, group_id: str) -> None:
        """Set the ticket's `group_id` (stored as given)."""
        with self._locked(int(ticket_id)):
            data = self._read(int(ticket_id))
            data["group_id"] = group_id
            self._write(int(ticket_id), data)

    def _path(self, ticket_id: int) -> Path:
        return self.root / f"{ticket_id}.json"

    def _read(self, ticket_id: int) -> dict[str, Any]:
        try:
            text = self._path(ticket_id).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise TicketNotFound(f"no local ticket {ticket_id} in {self.root}") from exc
        except UnicodeDecodeError as exc:
            raise PermanentHelpdeskError(f"{self._path(ticket_id)} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PermanentHelpdeskError(f"{self._path(ticket_id)} is not valid JSON") from exc
        if not isinstance(data, dict):
            raise PermanentHelpdeskError(f"{self._path(ticket_id)} is not a JSON object")
        return data

    def _write(self, ticket_id: int, data: dict[str, Any]) -> None:
        _atomic_write(self._path(ticket_id), json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    @contextmanager
    def _locked(self, ticket_id: int) -> Iterator[None]:
        if not self._path(ticket_id).exists():
            raise TicketNotFound(f"no local ticket {ticket_id} in {self.root}")
        with self._thread_lock, open(self.root / f".{ticket_id}.lock", "a") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def ticket_from_json(data: Any) -> Ticket:
    """Build a `Ticket` from the local JSON format (demo/tickets/*.json: `id`, and per message `id`,
    `created_at` and `author_role`); raises `PermanentHelpdeskError` naming the field on a bad file."""
    if not isinstance(data, dict):
        raise PermanentHelpdeskError(f"not a ticket: expected a JSON object, got {type(data).__name__}")
    where = "ticket"
    try:
        requester = data.get("requester") or {}
        messages = []
        for n, m in enumerate(data.get("messages") or ()):
            where = f"messages[{n}]"
            if not isinstance(m, dict):
                raise PermanentHelpdeskError(f"local ticket {data.get('id')!r}: {where} is not a JSON object")
            role = m.get("author_role", "requester")
            if role not in _ROLES:
                raise PermanentHelpdeskError(f"unknown author_role {role!r} in local ticket {data.get('id')}")
            messages.append(
                Message(
                    id=str(m["id"]),
                    author_id=None if m.get("author_id") is None else str(m["author_id"]),
                    author_role=role,
                    body=message_text(str(m.get("body") or ""), str(m.get("html") or "")),
                    public=bool(m.get("public", True)),
                    created_at=parse_time(m["created_at"], source="local"),
                    html=str(m.get("html") or ""),
                    attachments=len(m.get("attachments") or ()),
                )
            )
        where = "ticket"
        messages.sort(key=lambda msg: msg.created_at)
        return Ticket(
            id=int(data["id"]),
            subject=str(data.get("subject") or ""),
            requester_id=None if requester.get("id") is None else str(requester["id"]),
            status=str(data.get("status") or "open"),
            tags=tuple(data.get("tags") or ()),
            messages=tuple(messages),
            group_id=None if data.get("group_id") is None else str(data["group_id"]),
            locale=data.get("locale"),
            fields={str(k): str(v) for k, v in (data.get("fields") or {}).items()},
        )
    except KeyError as exc:
        raise PermanentHelpdeskError(f"local ticket {data.get('id')!r}: {where} has no {exc.args[0]!r} field") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise PermanentHelpdeskError(f"local ticket {data.get('id')!r}: {where} is malformed ({exc})") from exc


_BLOCK_TAGS = ("p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "pre", "table")


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment: one line per block element or `<br>`, inline tags joined,
    runs of spaces collapsed, empty lines and HTML comments (Deskhand's hidden marker) dropped."""
    soup = BeautifulSoup(html, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return "\n".join(line for line in lines if line)


def message_text(text: str, html: str) -> str:
    """`text` when it has any non-space character, else the visible text of `html` (`html_to_text`).

    Helpdesks send a message's plain text and its HTML side by side, and the plain one can be empty
    while the HTML is not (rich-text widgets, HTML-only e-mails, API-created comments): triage must not
    read such a message as empty.
    """
    return text if text.strip() else html_to_text(html) if html else text


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
