"""Exact and near-duplicate detection in constant memory.

Exact duplicates: a hash of the record's normalised text (case, whitespace and punctuation
ignored). Near duplicates: MinHash signatures (``datasketch``) of word 3-gram shingles with
locality-sensitive hashing in bands, each candidate checked against the estimated Jaccard
similarity. The index lives in a temporary SQLite file, not in Python memory, so importing a
file ten times larger does not take ten times the memory.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from datasketch import MinHash

NUM_PERM = 64
BANDS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed."""
    return " ".join(_WORD.findall(text.lower()))


def record_text(record: dict[str, Any]) -> str:
    """Every text of a normalised record, in a fixed order (for hashing)."""
    parts = []
    for key in sorted(record):
        value = record[key]
        if key == "format":
            continue
        if key == "messages":
            parts += [f"{m['role']}: {m.get('content', '')}" for m in value]
        elif isinstance(value, str):
            parts.append(f"{key}: {value}")
    return "\n".join(parts)


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def _crc(data: bytes) -> int:
    return zlib.crc32(data)


class MinHasher:
    """MinHash signatures of word 3-grams, sharing one set of permutations."""

    def __init__(self, num_perm: int = NUM_PERM, seed: int = 1) -> None:
        self._template = MinHash(num_perm=num_perm, seed=seed, hashfunc=_crc)
        self.num_perm = num_perm

    def signature(self, text: str) -> np.ndarray:
        words = normalise(text).split()
        shingles = {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))}
        minhash = MinHash(num_perm=self.num_perm, hashfunc=_crc,
                          permutations=self._template.permutations,
                          scheme=self._template.scheme)
        minhash.update_batch([s.encode() for s in shingles])
        return minhash.hashvalues.astype(np.uint32)


def band_keys(signature: np.ndarray, bands: int = BANDS) -> list[int]:
    rows = len(signature) // bands
    return [
        band * 2**32 + zlib.crc32(signature[band * rows:(band + 1) * rows].tobytes())
        for band in range(bands)
    ]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


class NearIndex:
    """MinHash LSH over texts, stored in a temporary SQLite file (constant Python memory)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.hasher = MinHasher()
        self._dir = tempfile.TemporaryDirectory(prefix="ftp-dedupe-")
        self.db = sqlite3.connect(Path(self._dir.name) / "index.db")
        self.db.executescript(
            "pragma journal_mode=off; pragma synchronous=off;"
            "create table exact (hash text primary key, location text);"
            "create table sig (id integer primary key, location text, sig blob);"
            "create table band (key integer, id integer);"
            "create index band_key on band (key);"
        )

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()

    def add(self, text: str, location: Any, signature: np.ndarray | None = None) -> None:
        signature = self.hasher.signature(text) if signature is None else signature
        new_id = self.db.execute("insert into sig (location, sig) values (?, ?)",
                                 (str(location), signature.tobytes())).lastrowid
        self.db.executemany("insert into band values (?, ?)",
                            [(k, new_id) for k in band_keys(signature)])

    def query(self, text: str, signature: np.ndarray | None = None,
              first: bool = True) -> list[tuple[str, float]]:
        """(location, similarity) of indexed texts at least ``threshold`` similar."""
        signature = self.hasher.signature(text) if signature is None else signature
        keys = band_keys(signature)
        rows = self.db.execute(
            f"select distinct s.location, s.sig from band b join sig s on s.id = b.id "
            f"where b.key in ({','.join('?' * len(keys))}) limit 200", keys)
        found = []
        for location, blob in rows:
            score = similarity(signature, np.frombuffer(blob, dtype=np.uint32))
            if score >= self.threshold:
                found.append((location, score))
                if first:
                    break
        return found


class Deduper(NearIndex):
    """Remembers what it has seen; ``check`` says whether a record repeats one before it."""

    def __init__(self, near_threshold: float = 0.9) -> None:
        super().__init__(near_threshold)
        self.near = near_threshold > 0

    def check(self, text: str, location: Any) -> tuple[str, str] | None:
        """None for a new record, else ("duplicate" | "near_duplicate", first location)."""
        key = text_hash(text)
        seen = self.db.execute("select location from exact where hash = ?", (key,)).fetchone()
        if seen:
            return "duplicate", seen[0]
        self.db.execute("insert into exact values (?, ?)", (key, str(location)))
        if not self.near:
            return None
        signature = self.hasher.signature(text)
        found = self.query(text, signature)
        if found:
            return "near_duplicate", found[0][0]
        self.add(text, location, signature)
        return None
