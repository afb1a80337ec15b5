"""Chroma server mode: `chroma run` on 127.0.0.1, the index through HttpClient, as CHROMA_HOST configures it."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from knowledge.embeddings import get_embedder
from knowledge.index import KnowledgeIndex, chroma_client
from knowledge.models import Article
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

ARTICLES = [
    Article(id="password-reset", title="Reset your password", body="Click Forgot password on the sign-in page; the link is valid for 30 minutes."),
    Article(id="shipping-times", title="Shipping times", body="Standard shipping takes 3 to 5 business days."),
]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """(host, port) of a Chroma server started for this module, stopped after it."""
    executable = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert executable, "the chroma CLI ships with chromadb; is the venv complete?"
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [executable, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(data / "db")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {proc.returncode}: {(data / 'server.log').read_text()[-2000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("chroma run did not answer its heartbeat in 60 s")
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_two_workers_share_one_index_through_the_server(chroma_server) -> None:
    host, port = chroma_server
    from worker.settings import Settings

    embedder = get_embedder(Settings().embedding_model)
    syncer = KnowledgeIndex(client=chroma_client(host=host, port=port), collection="shared_kb", embedder=embedder)
    reader = KnowledgeIndex(client=chroma_client(host=host, port=port), collection="shared_kb", embedder=embedder)
    assert reader.search("forgot my password") == []

    first = syncer.sync(ARTICLES)
    syncer.set_state("zendesk", {"start_time": 1762326000})

    assert (first.added, first.chunks_embedded) == (2, 2)
    best = reader.search("I forgot my password", top_k=1)[0]  # the other client sees the sync at once
    assert (best.article_id, best.score > 0.5) == ("password-reset", True)
    assert reader.get_state("zendesk") == {"start_time": 1762326000}
    assert syncer.sync(ARTICLES).chunks_embedded == 0  # unchanged: nothing embedded

    syncer.sync(ARTICLES[1:])
    assert [p.article_id for p in reader.search("forgot my password", mode="bm25", min_score=-1)] != ["password-reset"]
    assert reader.articles() == 1


def test_build_index_uses_the_server_when_chroma_host_is_set(chroma_server) -> None:
    from worker.settings import Settings
    from worker.wiring import build_index

    host, port = chroma_server
    index = build_index(Settings(chroma_host=host, chroma_port=port, chroma_collection="wired_kb"))
    index.sync(ARTICLES[:1])
    assert KnowledgeIndex(client=chroma_client(host=host, port=port), collection="wired_kb", embedder=index._embedder).count() == 1
