"""A local HTTP server speaking the Telegram Bot API, for tests against the real client.

It answers ``/bot<token>/<method>`` the way api.telegram.org does — ``{"ok": true,
"result": ...}`` with real Message objects, ``{"ok": false, "error_code": 429,
"description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}``,
500s — and records every call with the moment it arrived. Messages count as *delivered*
when the server has read the request (as on the real Telegram, whatever happens to the
answer afterwards). Scripted faults apply to the next ``sendMessage`` calls:
"429" (retry after N), "500", "403", "hold" (keep the request until released: the
worker can be killed meanwhile), "drop" (close the connection without an answer), "ok".
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "123456:TEST-token"


def _worker_ports() -> range:
    """Each pytest-xdist worker gets its own slice of 18100-18199, so a port one worker's
    fake Telegram frees while "down" is never taken by another worker's server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    start = 18100 + (index % 4) * 25
    return range(start, start + 25)


PORTS = _worker_ports()


@dataclass
class Call:
    method: str
    params: dict
    at: float


@dataclass
class Delivered:
    chat_id: int
    text: str
    message_id: int
    at: float
    reply_markup: dict | None = None


@dataclass
class FakeTelegram:
    token: str = TOKEN
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    edited: list[dict] = field(default_factory=list)
    answers: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque = deque()
        self._updates: list[dict] = []
        self._updates_changed = threading.Condition(self._lock)
        self._message_id = 1000
        self._server: ThreadingHTTPServer | None = None
        self._placeholder: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.release = threading.Event()
        self.holding = threading.Event()

    # --- running ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeTelegram:
        handler = _handler_for(self)
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        if self.port:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        else:
            for port in PORTS:
                try:
                    self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
                except OSError:
                    continue
                self.port = port
                break
            else:
                raise RuntimeError("no free port in 18100-18199")
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Telegram goes down: the port refuses connections. It stays bound (without
        listening) while down, so that no other test run's server can take it meanwhile."""
        if self._server is not None:
            self.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            placeholder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                placeholder.bind(("127.0.0.1", self.port))
            except OSError:
                placeholder.close()
            else:
                self._placeholder = placeholder

    def close(self) -> None:
        """The end of the test: down, and the port given back."""
        self.stop()
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    # --- scripting --------------------------------------------------------------------

    def fault(self, *faults) -> None:
        """Faults for the next sendMessage calls, in order: "500", "403", "drop", "hold",
        ("429", seconds)."""
        with self._lock:
            self._faults.extend(faults)

    def push_update(self, update: dict) -> None:
        with self._updates_changed:
            self._updates.append(update)
            self._updates_changed.notify_all()

    def texts(self, chat_id: int | None = None) -> list[str]:
        with self._lock:
            return [d.text for d in self.delivered if chat_id is None or d.chat_id == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    # --- the Bot API ------------------------------------------------------------------

    def _next_message_id(self) -> int:
        self._message_id += 1
        return self._message_id

    def handle(self, method: str, params: dict):
        """Returns (status, body) or None to drop the connection."""
        now = time.time()
        with self._lock:
            self.calls.append(Call(method, params, now))
            fault = self._faults.popleft() if method == "sendMessage" and self._faults else None
        if fault == "ok":
            fault = None
        if fault == "500":
            return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        if fault == "403":
            return 403, {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            }
        if isinstance(fault, tuple) and fault[0] == "429":
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {fault[1]}",
                "parameters": {"retry_after": fault[1]},
            }
        if method == "getMe":
            return 200, {"ok": True, "result": _bot_user()}
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            with self._lock:
                message_id = self._next_message_id()
                self.delivered.append(
                    Delivered(chat_id, params["text"], message_id, now, params.get("reply_markup"))
                )
            if fault == "drop":
                return None
            if fault == "hold":
                self.holding.set()
                self.release.wait(timeout=60)
            return 200, {"ok": True, "result": _message(message_id, chat_id, params)}
        if method == "editMessageText":
            with self._lock:
                self.edited.append(params)
            return 200, {
                "ok": True,
                "result": _message(int(params["message_id"]), int(params["chat_id"]), params),
            }
        if method == "answerCallbackQuery":
            with self._lock:
                self.answers.append(params)
            return 200, {"ok": True, "result": True}
        if method in ("setWebhook", "deleteWebhook"):
            return 200, {"ok": True, "result": True}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            timeout = float(params.get("timeout") or 0)
            deadline = time.time() + min(timeout, 5)
            with self._updates_changed:
                while True:
                    result = [u for u in self._updates if u["update_id"] >= offset]
                    if result or time.time() >= deadline:
                        break
                    self._updates_changed.wait(timeout=deadline - time.time())
            return 200, {"ok": True, "result": result}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}


def _bot_user() -> dict:
    return {"id": 123456, "is_bot": True, "first_name": "VROP", "username": "vrop_test_bot"}


def _message(message_id: int, chat_id: int, params: dict) -> dict:
    message = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
        "from": _bot_user(),
        "text": params.get("text", ""),
    }
    if params.get("reply_markup"):
        message["reply_markup"] = params["reply_markup"]
    return message


def _parse(handler: BaseHTTPRequestHandler) -> dict:
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length).decode() if length else ""
    kind = handler.headers.get("Content-Type", "")
    if "json" in kind:
        return json.loads(body or "{}")
    params = {key: values[-1] for key, values in parse_qs(body).items()}
    # python-telegram-bot sends objects as JSON strings inside the form
    for key in ("reply_markup", "allowed_updates", "link_preview_options"):
        if key in params:
            params[key] = json.loads(params[key])
    return params


def _handler_for(fake: FakeTelegram):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):  # noqa: N802
            path = urlparse(self.path).path
            prefix = f"/bot{fake.token}/"
            params = _parse(self)
            if not path.startswith(prefix):
                self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            answer = fake.handle(path[len(prefix) :], params)
            if answer is None:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(*answer)

        do_GET = do_POST  # noqa: N815

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
