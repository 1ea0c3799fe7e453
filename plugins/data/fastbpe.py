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

With GPT-2's pattern a second cache works on whole words: a line whose only whitespace is
single spaces (none at its end) splits into the same pieces as its space-separated words,
each with its leading space, and a single newline between such lines is a piece of its
own (see ``_words``). ``str.split`` finds the words in C, one dict lookup answers a word,
so most text never reaches the regex; anything else (tabs, runs of spaces or newlines)
takes the piece path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import regex

from ftp.api import Tokenizer

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
        self.backend, self.model = backend, backend.model
        self.findall = regex.compile(pattern).findall
        names = sorted(added, key=len, reverse=True)
        self.split = re.compile("(" + "|".join(map(re.escape, names)) + ")").split \
            if names else None
        self.added = added
        self.bytes = _byte_chars()
        self.cache: dict[str, list[int]] = {}
        # Word caches (GPT-2 pattern only): a line's first word, and a later word, whose
        # ids are those of " " + word.
        self.by_word = pattern == GPT2_PATTERN
        self.first: dict[str, list[int]] = {}
        self.later: dict[str, list[int]] = {}
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
                words = self._words(segment) if self.by_word else None
                if words is not None:
                    ids += words
                    continue
                for piece in findall(segment):
                    ids += get(piece) or bpe(piece)
        return ids

    def _pieces(self, text: str) -> list[int]:
        get, bpe = self.cache.get, self._bpe
        return [i for piece in self.findall(text) for i in (get(piece) or bpe(piece))]

    def _words(self, segment: str) -> list[int] | None:
        """Ids by whole words, or None when the segment's whitespace needs the regex.

        Exact for GPT-2's pattern: in a line without whitespace other than single inner
        spaces, every piece ends before a space and one starting at a space is `` ?X+``
        (X a letter, digit or other class) that stops at the next space, so the line's
        pieces are its words' pieces. A newline between two such lines, each non-empty, is
        matched by ``\\s+`` alone (``\\s+(?!\\S)`` fails before a non-space, or keeps just
        the newline before a single space), as is one at either end of the segment.
        ``str.split()`` splits at every character the tokenizer's ``\\s`` matches (and at
        U+001C..U+001F, which only sends such text to the regex).
        """
        lines = segment.split("\n")
        last = len(lines) - 1
        ids: list[int] = []
        for number, line in enumerate(lines):
            if number:
                ids += self._newline
            words = line.split()
            spaced = line[:1] == " "
            if " ".join(words) != (line[1:] if spaced else line):
                return None  # other whitespace, or spaces that are not single and inner
            if not words:
                if spaced or 0 < number < last:
                    return None  # a lone space, or an empty inner line
                continue
            if not spaced:
                head, words = words[0], words[1:]
                got = self.first.get(head)
                ids += got if got is not None else self._remember(self.first, head, head)
            start = len(ids)
            try:  # all in C while every word is known
                ids += chain.from_iterable(map(self.later.get, words))
            except TypeError:  # a word not seen yet (None): learn the new ones, retry
                del ids[start:]
                for word in set(words).difference(self.later):
                    self._remember(self.later, word, " " + word)
                ids += chain.from_iterable(map(self.later.get, words))
        return ids

    def _remember(self, cache: dict[str, list[int]], word: str, text: str) -> list[int]:
        if len(cache) >= MAX_CACHE:
            cache.clear()
        ids = cache[word] = self._pieces(text)
        return ids

    @property
    def _newline(self) -> list[int]:
        return self.first.get("\n") or self._remember(self.first, "\n", "\n")

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


def piece_encoder(tokenizer: Tokenizer) -> Callable[[Sequence[str]], list[list[int]] | None] | None:
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
