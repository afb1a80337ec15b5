"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (stdlib http.server), for tests.

Each POST /v1/chat/completions is answered by the next scripted reply, or by `default` when the
script is empty. A reply is one of:

    Reply.json({...})          a completion whose message content is that object as JSON
    Reply.content("text")      a completion whose message content is the raw text (e.g. invalid JSON)
    Reply.status(500)          an error response with that HTTP status
    Reply.slow(seconds, reply) the reply, after sleeping (to trigger the client's timeout)

or a callable taking the request's JSON and returning a Reply. Every request's JSON is kept in
`requests`, so a test can check exactly what left the machine.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass(frozen=True)
class Reply:
    kind: str
    body: Any = None
    seconds: float = 0.0
    then: "Reply | None" = None

    @classmethod
    def json(cls, obj: Any) -> "Reply":
        return cls("content", json.dumps(obj))

    @classmethod
    def content(cls, text: str) -> "Reply":
        return cls("content", text)

    @classmethod
    def status(cls, code: int) -> "Reply":
        return cls("status", code)

    @classmethod
    def slow(cls, seconds: float, then: "Reply") -> "Reply":
        return cls("slow", seconds=seconds, then=then)


def completion(content: str, model: str = "local-model") -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1767225600,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
    }


class FakeLLMServer:
    def __init__(self, default: Reply | Callable[[dict], Reply] | None = None):
        self.script: list[Reply | Callable[[dict], Reply]] = []
        self.default = default
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(request)
                    step = server.script.pop(0) if server.script else server.default
                reply = step(request) if callable(step) else step
                if reply is None:
                    reply = Reply.status(500)
                while reply.kind == "slow":
                    time.sleep(reply.seconds)
                    reply = reply.then
                if reply.kind == "status":
                    self._send(reply.body, {"error": {"message": "scripted failure", "type": "server_error", "code": None}})
                else:
                    self._send(200, completion(reply.body, request.get("model", "local-model")))

            def _send(self, status: int, obj: dict) -> None:
                data = json.dumps(obj).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeLLMServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def user_texts(self) -> list[str]:
        """Every message text of every request, as the server received it."""
        return [m.get("content", "") if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
                for r in self.requests for m in r.get("messages", [])]

    @staticmethod
    def schema_name(request: dict) -> str:
        """The structured-output schema a request asks for (json_schema or tools), "" if none."""
        fmt = request.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return fmt.get("json_schema", {}).get("name", "")
        tools = request.get("tools") or []
        return tools[0]["function"]["name"] if tools else ""
