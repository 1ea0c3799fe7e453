"""The review page's server: 127.0.0.1 only, a random free port, a secret token per session.

Every request must carry the token (``?token=`` or the ``X-FTP-Token`` header), otherwise
403: another local user or a web page in the reviewer's browser cannot read the samples or
write ratings. Beyond the token: the ``Host`` header must name loopback (or the bound host)
and this port, so a DNS-rebinding page cannot talk to the server under its own name; a
request with an ``Origin`` must come from this server's own origin; and writes must be JSON
(``Content-Type: application/json``), which a plain HTML form on another site cannot send. Requests are served on threads (browsers open idle speculative connections
that would stall a single-threaded server); each thread opens its own store connection and a
lock keeps the API calls one at a time.
"""

from __future__ import annotations

import errno
import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from ftp.errors import FtpError, UserError
from ftp.plugins.review import data as review_data
from ftp.store import Store

HOST = "127.0.0.1"
MAX_BODY = 1_000_000
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
CHOICES = {"left": "a", "right": "b", "tie": "tie"}


class ReviewApp:
    """The state of one review session: which samples and pairs, who reviews."""

    def __init__(self, store_path: Path, review: review_data.ReviewSet, reviewer: str) -> None:
        self.store_path = Path(store_path)
        self.review = review
        self.reviewer = reviewer
        self.token = secrets.token_urlsafe(24)
        self.lock = threading.Lock()
        self._local = threading.local()

    @property
    def store(self) -> Store:
        if getattr(self._local, "store", None) is None:  # sqlite3 connections are per-thread
            self._local.store = Store(self.store_path)
        return self._local.store

    def items(self) -> dict[str, Any]:
        ids = [s["id"] for s in self.review.samples]
        rated = review_data.ratings_for(self.store, ids, self.reviewer)
        samples = [{**s, "rating": rated.get(s["id"])} for s in self.review.samples]
        pairs = [{"index": i, "prompt": p.prompt, "task": p.task, "left": p.left["output"],
                  "right": p.right["output"]} for i, p in enumerate(self.review.pairs)]
        return {"reviewer": self.reviewer, "runs": self.review.run_ids, "samples": samples,
                "pairs": pairs}

    def rate(self, body: dict[str, Any]) -> dict[str, Any]:
        sample_id = int(body["sample_id"])
        if sample_id not in {s["id"] for s in self.review.samples}:
            raise UserError(f"sample {sample_id} is not part of this review")
        rating_id = review_data.save_rating(
            self.store, sample_id, self.reviewer, passed=body.get("passed"),
            score=body.get("score"), tags=body.get("tags") or [], note=body.get("note") or "")
        return {"id": rating_id}

    def prefer(self, body: dict[str, Any]) -> dict[str, Any]:
        index = int(body["index"])
        if not 0 <= index < len(self.review.pairs):
            raise UserError(f"no pair {index}")
        if body.get("choice") not in CHOICES:
            raise UserError(f"choice must be one of {', '.join(CHOICES)}")
        choice = CHOICES[body["choice"]]
        pref_id = review_data.save_preference(self.store, self.review.pairs[index], choice,
                                              self.reviewer, note=body.get("note") or "")
        return {"id": pref_id}


def _page() -> bytes:
    return resources.files("ftp.plugins.review").joinpath("static/review.html").read_bytes()


class Handler(BaseHTTPRequestHandler):
    app: ReviewApp
    server_version = "ftp-review"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return

    def _authorised(self) -> bool:
        query = parse_qs(urlparse(self.path).query)
        given = self.headers.get("X-FTP-Token") or (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), self.app.token.encode())

    def _origins(self) -> set[str]:
        """``host:port`` spellings of this server (loopback names and the bound host)."""
        port = self.server.server_address[1]
        return {f"{name}:{port}" for name in (*LOOPBACK_NAMES, HOST)}

    def _refusal(self, write: bool = False) -> tuple[int, str] | None:
        """Why this request is refused (status, reason), or None: Host, Origin, token, and
        for a write its Content-Type."""
        host = (self.headers.get("Host") or "").lower()
        if host not in self._origins():
            return 421, "unexpected Host header: use the URL ftp review printed"
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{o}" for o in self._origins()}:
            return 403, "cross-origin request refused"
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return 403, "cross-site request refused"
        if not self._authorised():
            return 403, "missing or wrong token"
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if write and kind != "application/json":
            return 415, "send the body as JSON (Content-Type: application/json)"
        return None

    def _refuse(self, refusal: tuple[int, str]) -> None:
        status, reason = refusal
        self._send(status, f"forbidden: {reason}\n".encode() if status == 403
                   else f"{reason}\n".encode(), "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if (refusal := self._refusal()) is not None:
            return self._refuse(refusal)
        route = urlparse(self.path).path
        if route == "/":
            return self._send(200, _page(), "text/html; charset=utf-8")
        if route == "/api/items":
            with self.app.lock:
                return self._json(200, self.app.items())
        self._send(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        if (refusal := self._refusal(write=True)) is not None:
            return self._refuse(refusal)
        action = {"/api/rate": self.app.rate, "/api/prefer": self.app.prefer}.get(
            urlparse(self.path).path)
        if action is None:
            return self._send(404, b"not found\n", "text/plain")
        try:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise UserError("the body must be a JSON object")
            with self.app.lock:
                result = action(body)
            self._json(200, result)
        except FtpError as error:
            self._json(400, {"error": str(error)})
        except (KeyError, ValueError, TypeError) as error:
            self._json(400, {"error": f"bad request: {error}"})


def make_server(app: ReviewApp, port: int = 0) -> HTTPServer:
    """Bind on 127.0.0.1 (port 0: a free one); a port in use is a UserError."""
    handler = type("ReviewHandler", (Handler,), {"app": app})
    try:
        server = ThreadingHTTPServer((HOST, port), handler)
    except OSError as error:
        raise _port_error(port, error) from None
    server.daemon_threads = True
    return server


def _port_error(port: int, error: OSError) -> UserError:
    if error.errno == errno.EADDRINUSE:
        return UserError(f"port {port} is already in use on {HOST}",
                         hint="pick another with --port, or leave --port out for a free one")
    return UserError(f"cannot listen on {HOST}:{port}: {error.strerror}")


def url_for(server: HTTPServer, app: ReviewApp) -> str:
    return f"http://{HOST}:{server.server_address[1]}/?token={app.token}"
