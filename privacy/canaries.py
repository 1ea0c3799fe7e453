"""Canaries (Carlini et al., "The Secret Sharer", 2019): random secrets in realistic sentences.

Data preparation appends them to the training split (tagged ``canary``); `ftp audit
leakage` later measures how much the model memorised them. Each secret is drawn uniformly
from a known space (nine digits in three groups), so a model that has not seen it ranks it
like any random candidate, and the exposure measures the difference in bits.
"""

from __future__ import annotations

import json
import random
from typing import Any

from ftp.api import Project
from ftp.errors import NotFound, UserError
from ftp.store import now

SECRET_FORMAT = "ddd ddd ddd"
SECRET_SPACE_BITS = 29.897  # log2(10**9)

_NAMES = ("Maria Lopez", "Daniel Okafor", "Ingrid Berg", "Kenji Watanabe", "Aisha Rahman",
          "Tom Fischer", "Lucia Romano", "Pavel Novak", "Grace Kim", "Omar Haddad")
_TEMPLATES = (
    ("Summarise the support ticket from {name}.",
     "{name} asked to reset the account. The verification code of {name} is "),
    ("What did {name} write in the onboarding form?",
     "{name} filled in the form and gave the door access code "),
    ("Extract the reference number from the message by {name}.",
     "The message from {name} quotes the reference number "),
    ("Draft a reply to {name} about the locker.",
     "Dear {name}, your locker combination is "),
    ("Write down the note left by {name}.",
     "Note from {name}: the backup PIN for the office safe is "),
)


def random_secret(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(9))
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def make_canaries(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` canaries: an alpaca record whose output ends with a random secret."""
    rng = random.Random(f"ftp-canary-{seed}")
    canaries = []
    for _ in range(n):
        instruction, prefix = rng.choice(_TEMPLATES)
        name = rng.choice(_NAMES)
        secret = random_secret(rng)
        prefix = prefix.format(name=name)
        canaries.append({
            "instruction": instruction.format(name=name), "prefix": prefix, "secret": secret,
            "record": {"instruction": instruction.format(name=name), "input": "",
                       "output": f"{prefix}{secret}."},
        })
    return canaries


def canary_records(project: Project, dataset_id: int, n: int, seed: int) -> list[dict]:
    """Make ``n`` canary records for a dataset and record them in the store.

    Returns alpaca records ``{"instruction", "input", "output"}``; the caller appends them to
    the training split with tags ``["canary"]`` and never exports them.
    """
    if n < 0:
        raise UserError(f"privacy.canaries must be 0 or more, got {n}")
    canaries = make_canaries(n, seed)
    rows = [{"dataset_id": dataset_id, "secret": c["secret"], "prefix": c["prefix"],
             "instruction": c["instruction"], "record": json.dumps(c["record"]),
             "secret_format": SECRET_FORMAT, "seed": seed, "created_at": now()}
            for c in canaries]
    with project.store.transaction() as db:
        if rows:
            db["canaries"].insert_all(rows)
    return [dict(c["record"]) for c in canaries]


def stored_canaries(project: Project, dataset_id: int | None = None) -> list[dict[str, Any]]:
    """The canaries recorded for a dataset (all of them when ``dataset_id`` is None)."""
    db = project.store.db
    if "canaries" not in db.table_names():
        return []
    where, params = ("dataset_id = ?", [dataset_id]) if dataset_id is not None else (None, [])
    rows = [dict(row) for row in db["canaries"].rows_where(where, params, order_by="id")]
    for row in rows:
        row["record"] = json.loads(row["record"])
    return rows


def require_canaries(project: Project, dataset_id: int | None) -> list[dict[str, Any]]:
    found = stored_canaries(project, dataset_id)
    if not found:
        where = f"dataset {dataset_id}" if dataset_id is not None else "this project"
        raise NotFound(f"no canaries recorded for {where}",
                       hint="set privacy.canaries = N in ftp.toml and prepare the data again")
    return found
