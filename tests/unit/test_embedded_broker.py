"""The embedded broker writes each message file whole, so a worker polling the folder never takes a
half-written one (kombu's own filesystem channel creates the file, then writes it)."""
from __future__ import annotations

import json
import os

from worker.celery_app import make_celery
from worker.settings import Settings


def test_a_message_file_appears_only_once_it_is_whole(tmp_path, monkeypatch) -> None:
    app = make_celery(Settings(data_dir=tmp_path))
    queue = tmp_path / "broker" / "queue"
    seen_before_rename: list[list[str]] = []
    real_replace = os.replace

    def replace(src, dst):
        seen_before_rename.append(sorted(name for name in os.listdir(queue) if name.endswith(".msg")))
        assert json.loads(open(src, "rb").read())["body"]  # the partial file is complete before it is renamed
        return real_replace(src, dst)

    monkeypatch.setattr("worker.celery_app.os.replace", replace)
    with app.connection_for_write() as conn:
        conn.default_channel._put("tickets", {"body": "hello", "properties": {}})
        names = os.listdir(queue)
    assert seen_before_rename == [[]]  # no consumer-visible file existed while it was being written
    assert len(names) == 1 and names[0].endswith(".tickets.msg")
