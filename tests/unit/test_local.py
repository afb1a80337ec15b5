"""LocalHelpdesk: a folder of ticket JSON files for the demo and dry runs."""
from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from integrations.base import Helpdesk, Message, PermanentHelpdeskError, Ticket, TicketNotFound
from integrations.local import LocalHelpdesk, html_to_text

UTC = timezone.utc

TICKET = {
    "id": 1001,
    "subject": "Cannot reset my password",
    "requester": {"id": "u-1", "name": "Ana Ruiz", "email": "ana@example.test"},
    "status": "open",
    "tags": ["web"],
    "group_id": None,
    "locale": "es",
    "messages": [
        {"id": "m2", "author_id": "a-7", "author_role": "agent", "public": True,
         "created_at": "2026-11-20T11:00:00Z", "body": "Which e-mail address do you use?"},
        {"id": "m1", "author_id": "u-1", "author_role": "requester", "public": True,
         "created_at": "2026-11-20T10:00:00Z", "body": "The reset link never arrives."},
        {"id": "m3", "author_id": "u-1", "author_role": "requester", "public": True,
         "created_at": "2026-11-20T12:30:00+00:00", "body": "ana@example.test", "html": "<p>ana@example.test</p>"},
    ],
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "1001.json").write_text(json.dumps(TICKET), encoding="utf-8")
    return tmp_path


@pytest.fixture
def desk(root: Path) -> LocalHelpdesk:
    return LocalHelpdesk(root)


def test_is_a_helpdesk(desk):
    assert isinstance(desk, Helpdesk) and desk.name == "local"


def test_fetch_ticket(desk):
    assert desk.fetch_ticket(1001) == Ticket(
        id=1001,
        subject="Cannot reset my password",
        requester_id="u-1",
        status="open",
        tags=("web",),
        messages=(
            Message(id="m1", author_id="u-1", author_role="requester", body="The reset link never arrives.",
                    public=True, created_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),
            Message(id="m2", author_id="a-7", author_role="agent", body="Which e-mail address do you use?",
                    public=True, created_at=datetime(2026, 11, 20, 11, 0, tzinfo=UTC)),
            Message(id="m3", author_id="u-1", author_role="requester", body="ana@example.test", public=True,
                    created_at=datetime(2026, 11, 20, 12, 30, tzinfo=UTC), html="<p>ana@example.test</p>"),
        ),
        group_id=None,
        locale="es",
    )


def test_post_note_appends_private_message_and_writes_html(desk, root):
    html = "<p>Draft: check the <b>spam</b> folder.</p><!-- deskhand:v1 ticket=1001 -->"
    assert desk.post_note(1001, html) == "note-1"
    assert desk.post_note(1001, "<p>second</p>") == "note-2"
    assert (root / "1001.note-1.html").read_text(encoding="utf-8") == html
    stored = json.loads((root / "1001.json").read_text(encoding="utf-8"))["messages"][-2]
    assert stored["author_id"] == "deskhand" and stored["public"] is False and stored["html"] == html
    note = next(m for m in desk.fetch_ticket(1001).messages if m.id == "note-1")
    assert (note.author_role, note.public, note.body, note.html) == ("agent", False, "Draft: check the spam folder.", html)
    assert note.created_at.tzinfo is not None


def test_add_tags_merges(desk):
    desk.add_tags(1001, ["deskhand_account", "web", "deskhand_account"])
    assert desk.fetch_ticket(1001).tags == ("web", "deskhand_account")


def test_set_group(desk):
    desk.set_group(1001, "trust-and-safety")
    assert desk.fetch_ticket(1001).group_id == "trust-and-safety"


def test_missing_ticket(desk):
    for call in (lambda: desk.fetch_ticket(9), lambda: desk.post_note(9, "<p>x</p>"),
                 lambda: desk.add_tags(9, ["a"]), lambda: desk.set_group(9, "g")):
        with pytest.raises(TicketNotFound):
            call()


@pytest.mark.parametrize("content", ["{not json", "[]", '{"id": 1001, "messages": [{"id": "m1"}]}',
                                     '{"id": 1001, "messages": [{"id": "m1", "author_role": "bot", "created_at": "2026-11-20T10:00:00Z"}]}'])
def test_malformed_file_is_permanent(root, content):
    (root / "1001.json").write_text(content, encoding="utf-8")
    with pytest.raises(PermanentHelpdeskError):
        LocalHelpdesk(root).fetch_ticket(1001)


def test_bad_ticket_files_name_what_is_wrong(root):
    from integrations.local import ticket_from_json

    with pytest.raises(PermanentHelpdeskError, match="not a ticket: expected a JSON object, got list"):
        ticket_from_json([1, 2])
    with pytest.raises(PermanentHelpdeskError, match=r"local ticket 1: messages\[0\] has no 'id' field"):
        ticket_from_json({"id": 1, "messages": [{"body": "hi"}]})
    with pytest.raises(PermanentHelpdeskError, match=r"messages\[1\] is not a JSON object"):
        ticket_from_json({"id": 1, "messages": [{"id": "m1", "created_at": "2026-11-20T10:00:00Z"}, "hi"]})
    (root / "1002.json").write_bytes(b'{"id": 1002, "subject": "caf\xe9"}')
    with pytest.raises(PermanentHelpdeskError, match="1002.json is not UTF-8 text"):
        LocalHelpdesk(root).fetch_ticket(1002)
    (root / "1003.json").write_text('{"id": 9999, "messages": []}', encoding="utf-8")
    with pytest.raises(PermanentHelpdeskError, match="1003.json holds ticket 9999, not 1003"):
        LocalHelpdesk(root).fetch_ticket(1003)


def test_writes_leave_no_temp_files(desk, root):
    desk.add_tags(1001, ["a"])
    desk.post_note(1001, "<p>x</p>")
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["1001.json", "1001.note-1.html"]
    assert not list(root.glob("*.tmp"))


def test_concurrent_threads_lose_nothing(root):
    desks = [LocalHelpdesk(root) for _ in range(2)]  # two instances: only the file lock is shared
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            desks[i % 2].add_tags(1001, [f"t{i}"])
            desks[i % 2].post_note(1001, f"<p>{i}</p>")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ticket = LocalHelpdesk(root).fetch_ticket(1001)
    assert set(ticket.tags) == {"web", *(f"t{i}" for i in range(16))}
    notes = [m.id for m in ticket.messages if m.id.startswith("note-")]
    assert sorted(notes) == sorted(f"note-{n}" for n in range(1, 17))


def _post_notes(root: str, count: int) -> None:
    desk = LocalHelpdesk(Path(root))
    for i in range(count):
        desk.post_note(1001, f"<p>{i}</p>")


def test_concurrent_processes_lose_nothing(root):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_post_notes, args=(str(root), 5)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=20)
    assert all(p.exitcode == 0 for p in procs)
    notes = [m.id for m in LocalHelpdesk(root).fetch_ticket(1001).messages if m.id.startswith("note-")]
    assert sorted(notes) == sorted(f"note-{n}" for n in range(1, 16))


def test_html_to_text_drops_comments_and_tags():
    html = "<p>Hi <b>there</b>,</p><!-- deskhand:marker --><ul><li>one</li><li>two<br>lines</li></ul>"
    assert html_to_text(html) == "Hi there,\none\ntwo\nlines"
