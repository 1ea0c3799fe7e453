"""Exact byte-level BPE encoding with a per-piece cache, for GPT-2-style fast tokenizers.

Profiling ``encode_records`` showed the Rust tokenizer's batch encode at ~90% of the time:
not the BPE merges (the Rust model caches words) but building an ``Encoding`` per text,
with a token string, offsets and masks per token. A byte-level BPE tokenizer without a
normalizer encodes a text as: split on added tokens; split each segment with one regex
(GPT-2's, or the ``Split`` pattern of Llama-3/Qwen-style tokenizers); BPE each piece on
its own. Words repeat (Zipf), so a dict from piece to ids answers most pieces; misses go to
the tokenizer's own BPE model. Output is identical to ``encode_batch``; a tokenizer outside
this shape (a normalizer, Metaspace, added tokens that strip spaces, BPE dropout) gets
``None`` from ``piece_encoder`` and the caller keeps the Rust batch path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"
                r"|\s+(?!\S)|\s+")
MAX_CACHE = 500_000
CHECK_TEXTS = 64  # texts of the first batch compared with the Rust tokenizer


def _byte_chars() -> list[str]:
    """GPT-2's bytes -> printable characters table (ByteLevel's alphabet)."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return [table[byte] for byte in range(256)]


def _split_pattern(spec: dict[str, Any]) -> str | None:
    """The pre-tokenizer's regex, when it is one we replicate exactly."""
    pre = spec.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True) \
            and not pre.get("add_prefix_space"):
        return GPT2_PATTERN
    parts = pre.get("pretokenizers") or []
    if pre.get("type") == "Sequence" and len(parts) == 2:
        split, level = parts
        if (split.get("type") == "Split" and "Regex" in (split.get("pattern") or {})
                and split.get("behavior") == "Isolated" and not split.get("invert")
                and level.get("type") == "ByteLevel" and not level.get("use_regex", True)
                and not level.get("add_prefix_space")):
            return split["pattern"]["Regex"]
    return None


class PieceEncoder:
    """``__call__(texts) -> ids`` equal to the backend's ``encode_batch`` ids."""

    def __init__(self, backend: Any, pattern: str, added: dict[str, int]) -> None:
        import regex

        self.backend, self.model = backend, backend.model
        self.findall = regex.compile(pattern).findall
        names = sorted(added, key=len, reverse=True)
        self.split = regex.compile("(" + "|".join(map(regex.escape, names)) + ")").split \
            if names else None
        self.added = added
        self.bytes = _byte_chars()
        self.cache: dict[str, list[int]] = {}
        self.checked = self.broken = False

    def _bpe(self, piece: str) -> list[int]:
        if len(self.cache) >= MAX_CACHE:
            self.cache.clear()
        chars = "".join(self.bytes[b] for b in piece.encode("utf-8"))
        ids = self.cache[piece] = [token.id for token in self.model.tokenize(chars)]
        return ids

    def _one(self, text: str) -> list[int]:
        get, bpe, findall = self.cache.get, self._bpe, self.findall
        segments = self.split(text) if self.split else [text]
        ids: list[int] = []
        for index, segment in enumerate(segments):
            if index % 2:
                ids.append(self.added[segment])
            elif segment:
                for piece in findall(segment):
                    ids += get(piece) or bpe(piece)
        return ids

    def __call__(self, texts: Sequence[str]) -> list[list[int]] | None:
        out = [self._one(text) for text in texts]
        if not self.checked:  # exactness guard: compare a sample with the Rust tokenizer
            sample = list(texts[:CHECK_TEXTS])
            rust = [e.ids for e in self.backend.encode_batch(sample, add_special_tokens=False)]
            if rust != out[:len(sample)]:
                self.broken = True
                return None
            self.checked = True
        return out


def piece_encoder(tokenizer: Any) -> Callable[[Sequence[str]], list[list[int]] | None] | None:
    """A cached ``PieceEncoder`` for a tokenizer of the supported shape, else None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not getattr(tokenizer, "is_fast", False):
        return None
    key = backend.get_vocab_size(with_added_tokens=True)  # tokens added later: rebuild
    cached = getattr(tokenizer, "_ftp_piece_encoder", None)
    if cached is not None and cached[0] == key:
        return None if cached[1] is None or cached[1].broken else cached[1]
    encoder = None
    spec = json.loads(backend.to_str())
    model = spec.get("model") or {}
    added = spec.get("added_tokens") or []
    pattern = _split_pattern(spec)
    if (pattern and spec.get("normalizer") is None and model.get("type") == "BPE"
            and model.get("dropout") is None and not model.get("byte_fallback")
            and all(not (a.get("lstrip") or a.get("rstrip") or a.get("single_word"))
                    for a in added)):
        try:
            encoder = PieceEncoder(backend, pattern, {a["content"]: a["id"]
                                                      for a in added})
        except Exception:  # a pattern the regex module reads differently: Rust path
            encoder = None
    try:
        tokenizer._ftp_piece_encoder = (key, encoder)
    except AttributeError:
        pass
    return encoder
