"""A bounded load generator for an OpenAI-compatible server: streamed chat completions.

At each concurrency level, ``requests`` requests (at most) are sent with that many in
flight, and no new one starts after ``max_seconds``. Each reply is streamed: the time to
the first content event is the TTFT, the gaps between later content events the
inter-token latencies (one event per token with transformers serve and vLLM). Generated
tokens are the server's ``usage.completion_tokens`` where it reports them, else the count
of content events. Loopback only: this is a measuring tool, not a load test of others.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx

from ftp.errors import UserError
from ftp.offline import is_loopback


@dataclass
class Reply:
    ttft: float | None = None
    gaps: list[float] = field(default_factory=list)
    tokens: int = 0
    ok: bool = False


def check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname
    if not url.startswith(("http://", "https://")) or not host:
        raise UserError(f"{url}: not an endpoint URL; give http://127.0.0.1:PORT/v1")
    if not is_loopback(host):
        raise UserError(f"{url}: ftp bench serve talks to loopback servers only "
                        "(127.0.0.1, localhost)")


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation, numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def _one(client: httpx.AsyncClient, body: dict[str, Any]) -> Reply:
    """One streamed request; a refused, broken or timed-out one counts as failed."""
    try:
        return await _streamed(client, body)
    except (httpx.HTTPError, ValueError):
        return Reply()


async def _streamed(client: httpx.AsyncClient, body: dict[str, Any]) -> Reply:
    reply, start, last = Reply(), time.perf_counter(), None
    async with client.stream("POST", "/chat/completions", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return reply
        events = 0
        async for line in response.aiter_lines():
            if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                continue
            event = json.loads(line[5:])
            usage = event.get("usage") or {}
            if usage.get("completion_tokens"):
                reply.tokens = int(usage["completion_tokens"])
            if any((c.get("delta") or {}).get("content") for c in event.get("choices") or []):
                now = time.perf_counter()
                if reply.ttft is None:
                    reply.ttft = now - start
                else:
                    reply.gaps.append(now - last)
                last, events = now, events + 1
        reply.tokens = reply.tokens or events
        reply.ok = reply.ttft is not None
    return reply


async def _level(url: str, headers: dict[str, str], bodies: list[dict[str, Any]],
                 concurrency: int, max_seconds: float) -> tuple[list[Reply], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = list(bodies)
    replies: list[Reply] = []
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=max_seconds + 60,
                                 limits=limits) as client:
        async def worker() -> None:
            while queue and time.perf_counter() - start < max_seconds:
                replies.append(await _one(client, queue.pop()))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return replies, time.perf_counter() - start


def measure(url: str, model_name: str, prompts: list[list[dict[str, Any]]], *,
            concurrency: list[int], requests: int, max_seconds: float, max_tokens: int,
            api_key: str | None = None, price_per_hour: float | None = None,
            extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per concurrency level; ``extra`` adds engine-specific request fields."""
    check_loopback(url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    rows = []
    for level in concurrency:
        count = max(requests, level)
        bodies = [{"model": model_name, "messages": prompts[i % len(prompts)],
                   "max_tokens": max_tokens, "temperature": 0, "stream": True,
                   "stream_options": {"include_usage": True}, **(extra or {})}
                  for i in range(count)]
        replies, wall = asyncio.run(_level(url, headers, bodies, level, max_seconds))
        rows.append(summarise(level, replies, wall, price_per_hour))
    return rows


def summarise(level: int, replies: list[Reply], wall: float,
              price_per_hour: float | None) -> dict[str, Any]:
    done = [r for r in replies if r.ok]
    ttft = [r.ttft * 1000 for r in done if r.ttft is not None]
    gaps = [g * 1000 for r in done for g in r.gaps]
    tokens = sum(r.tokens for r in done)
    per_s = tokens / wall if wall > 0 else 0.0
    row: dict[str, Any] = {"concurrency": level, "requests": len(done),
                           "failed": len(replies) - len(done), "seconds": round(wall, 3)}
    for name, values in (("ttft", ttft), ("itl", gaps)):
        for q in (50, 95, 99):
            found = percentile(values, q)
            row[f"{name}_p{q}_ms"] = None if found is None else round(found, 2)
    row["requests_per_s"] = round(len(done) / wall, 3) if wall > 0 else None
    row["tokens_per_s"] = round(per_s, 2)
    row["cost_per_m_tokens"] = (round(price_per_hour / (per_s * 3600) * 1e6, 4)
                                if price_per_hour is not None and per_s > 0 else None)
    return row
