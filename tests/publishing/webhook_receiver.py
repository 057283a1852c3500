"""A real webhook receiver for tests: an http.server on 127.0.0.1:0 in a thread that records
every request and answers with the status codes it is told to (200 once they run out)."""

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def signature_valid(self, secret: str) -> bool:
        """Checked the way a receiver would, independently of Folio's code."""
        timestamp = self.headers["X-Folio-Timestamp"]
        expected = hmac.new(
            secret.encode(), f"{timestamp}.".encode() + self.body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(self.headers["X-Folio-Signature"], f"sha256={expected}")


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer, in order
    hang: threading.Event | None = None  # when given: read the request, never answer

    def events(self) -> list[str]:
        return [r.headers["X-Folio-Event"] for r in self.requests]

    def of(self, event: str) -> list[Received]:
        return [r for r in self.requests if r.headers["X-Folio-Event"] == event]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if receiver.hang is not None:
                receiver.hang.wait(30)
                return
            receiver.requests.append(Received(self.path, dict(self.headers), body))
            status = receiver.answers.pop(0) if receiver.answers else 200
            payload = b'{"ok": true}' if status < 300 else b"receiver says no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture(name="receiver")
def receiver_fixture():
    box = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/folio"
    yield box
    if box.hang is not None:
        box.hang.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True, name="fresh_subscriptions")
def fresh_subscriptions_fixture():
    """Who subscribes to what is remembered per process for a few seconds; a test's rolled
    back webhooks must not be taken for subscribers by the tests after it."""
    from folio.publishing import webhooks

    webhooks.forget_subscriptions()
    yield
    webhooks.forget_subscriptions()
