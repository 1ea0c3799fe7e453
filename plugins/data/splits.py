"""Deterministic splits and nested fractions, from hashes rather than random draws.

An example's split depends only on a hash of its key (by default the normalised whole
prompt: instruction and input), so adding data never moves an existing example to another
split, and examples that share a key (the same question answered twice) land in the same
split. Keying on the prompt, not the instruction alone, matters for the most common shape
of data: one constant instruction ("Turn this email into a ticket") with varying inputs
would otherwise land wholly in one split, leaving nothing to evaluate on.
A ``fraction`` keeps the examples whose content hash falls below it, so the 10% subset is
inside the 25% subset and experiments on data amounts compare like with like.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ftp.plugins.data.dedupe import normalise
from ftp.plugins.data.formats import format_of

SPLITS = ("train", "validation", "test")
_SCALE = float(16**15)


def unit(hex_digest: str, offset: int = 0) -> float:
    """A number in [0, 1) from 15 hex digits of a hash."""
    return int(hex_digest[offset:offset + 15], 16) / _SCALE


def split_key(record: dict[str, Any], field: str = "") -> str:
    """The text a record's split is decided by: ``field`` if set and present, else its whole
    prompt (else its response, for records without a prompt)."""
    value = record.get(field) if field else None
    if not isinstance(value, str) or not value.strip():
        value = format_of(record).prompt(record) or format_of(record).response(record)
    return normalise(value)


def key_hash(record: dict[str, Any], field: str = "") -> str:
    return hashlib.sha256(split_key(record, field).encode()).hexdigest()


def assign_split(hashed: str, validation: float, test: float) -> str:
    value = unit(hashed)
    if value < test:
        return "test"
    if value < test + validation:
        return "validation"
    return "train"


def in_fraction(content_hash: str, fraction: float) -> bool:
    """Nested subsets: a smaller fraction keeps a subset of a larger one."""
    return fraction >= 1.0 or unit(content_hash, 16) < fraction


STRATIFY_SQL = """
with ranked as (
  select id,
    row_number() over (partition by json_extract(record, :path) order by key_hash) as rank,
    count(*) over (partition by json_extract(record, :path)) as total
  from examples where dataset_id = :dataset and (tags is null or tags not like '%canary%')
)
update examples set split = case
  when ranked.rank <= round(ranked.total * :test) then 'test'
  when ranked.rank <= round(ranked.total * (:test + :validation)) then 'validation'
  else 'train' end
from ranked where examples.id = ranked.id
"""


def stratify(db: Any, dataset_id: int, field: str, validation: float, test: float) -> None:
    """Re-split so each value of ``field`` has the same proportions (order: key hash).

    Exact proportions per stratum trade away the stability of plain hash splits: adding
    data to a stratum can move its examples at the boundaries.
    """
    db.execute(STRATIFY_SQL, {"path": f"$.{field}", "dataset": dataset_id,
                              "test": test, "validation": validation})
