"""A thin proxy in front of an engine: API key check and output scrubbing, nothing else.

Built from what ``transformers[serving]`` already brings (Starlette, uvicorn, httpx); every
request is forwarded as it is. With a scrubber, the replies of ``/v1/chat/completions`` and
``/v1/completions`` are scrubbed by ``ftp.privacy`` before they leave. A streamed reply keeps
its event framing, but each message's text is scrubbed whole and sent when the message ends
(as ``ftp chat`` does): a PII span can straddle tokens, so scrubbing token by token would
let it through. Request bodies are logged only with ``log_requests``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SCRUBBED_PATHS = ("/v1/chat/completions", "/v1/completions")
_HOP = {"host", "content-length", "transfer-encoding", "connection", "authorization"}


def build_app(upstream: str, *, api_key: str | None = None, scrubber: Any = None,
              log_requests: bool = False, upstream_key: str | None = None) -> Starlette:
    """The proxy app: ``upstream`` is the engine's root URL (``http://127.0.0.1:PORT``)."""
    client = httpx.AsyncClient(base_url=upstream, timeout=None)

    async def forward(request: Request) -> Response:
        if api_key and not _authorised(request, api_key):
            return JSONResponse({"error": {"message": "invalid or missing API key",
                                           "type": "invalid_request_error"}}, status_code=401)
        body = await request.body()
        _log(request, body, log_requests)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        if upstream_key:
            headers["authorization"] = f"Bearer {upstream_key}"
        sent = client.build_request(request.method, request.url.path, params=request.query_params,
                                    headers=headers, content=body)
        reply = await client.send(sent, stream=True)
        if scrubber is None or request.url.path not in SCRUBBED_PATHS or reply.status_code != 200:
            return StreamingResponse(reply.aiter_raw(), status_code=reply.status_code,
                                     headers=_reply_headers(reply),
                                     background=BackgroundTask(reply.aclose))
        if reply.headers.get("content-type", "").startswith("text/event-stream"):
            return StreamingResponse(scrub_stream(reply, scrubber), media_type="text/event-stream",
                                     background=BackgroundTask(reply.aclose))
        data = json.loads(await reply.aread())
        await reply.aclose()
        await run_in_threadpool(scrub_reply, data, scrubber)
        return JSONResponse(data, status_code=reply.status_code)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)],
                     lifespan=lifespan)


def _authorised(request: Request, api_key: str) -> bool:
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode())


def _log(request: Request, body: bytes, log_requests: bool) -> None:
    line = f"{request.method} {request.url.path}"
    if log_requests:
        line += " " + body.decode("utf-8", errors="replace")
        print(line, file=sys.stderr, flush=True)


def _reply_headers(reply: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in reply.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                 "content-encoding")}


def scrub_reply(data: dict[str, Any], scrubber: Any) -> None:
    """Scrub a non-streamed chat or text completion in place."""
    for choice in data.get("choices") or []:
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            message["content"] = scrubber.scrub_text(message["content"])
        if isinstance(choice.get("text"), str):
            choice["text"] = scrubber.scrub_text(choice["text"])


async def scrub_stream(reply: httpx.Response, scrubber: Any) -> AsyncIterator[bytes]:
    """Relay server-sent events; hold each choice's text and send it scrubbed, in one event
    just before the event that finishes that choice."""
    held: dict[int, list[str]] = {}
    async for line in reply.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            yield b"data: [DONE]\n\n"
            continue
        try:
            event = json.loads(payload)
        except ValueError:
            continue
        for out in await run_in_threadpool(_split_event, event, held, scrubber):
            yield f"data: {json.dumps(out)}\n\n".encode()


def _split_event(event: dict[str, Any], held: dict[int, list[str]], scrubber: Any
                 ) -> list[dict[str, Any]]:
    """The events to send for ``event``: its text taken out and held; at a choice's end, the
    held text scrubbed as one event before it."""
    out: list[dict[str, Any]] = []
    keep = False
    for choice in event.get("choices") or []:
        index = int(choice.get("index", 0))
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else None
        key = "content" if delta is not None else "text"
        holder = delta if delta is not None else choice
        piece = holder.pop(key, None)
        if isinstance(piece, str):
            held.setdefault(index, []).append(piece)
        if choice.get("finish_reason") is not None:
            text = scrubber.scrub_text("".join(held.pop(index, [])))
            out.append(_text_event(event, index, key, text))
        keep = keep or bool(delta) or choice.get("finish_reason") is not None
    if keep or not event.get("choices"):
        out.append(event)
    return out


def _text_event(event: dict[str, Any], index: int, key: str, text: str) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": index}
    choice.update({"delta": {"content": text}} if key == "content" else {"text": text})
    return {k: v for k, v in event.items() if k not in ("choices", "usage")} | {
        "choices": [choice]}
