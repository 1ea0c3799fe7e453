"""`ftp data import --from-reviews`: human pairwise choices -> a preference dataset (DPO).

A row of ``preferences`` names two samples shown side by side (``sample_a``, ``sample_b``)
and ``chosen`` (``"a"``, ``"b"`` or ``"tie"``). The prompt is the preference's own, else the
samples'. Ties and pairs with a missing or empty output carry no preference: they are
skipped, and reported like any skipped line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ftp.api import Project
from ftp.errors import UserError
from ftp.plugins.data.importer import import_records

SQL = """
select p.id, p.chosen, coalesce(nullif(p.prompt, ''), a.prompt, b.prompt) as prompt,
       a.output as output_a, b.output as output_b
from preferences p
left join samples a on a.id = p.sample_a
left join samples b on b.id = p.sample_b
order by p.id
"""


def preference_pairs(db: Any, ties: list[int]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(location, raw record)`` per decided preference; undecided ids go to ``ties``."""
    for pref_id, chosen, prompt, out_a, out_b in db.execute(SQL):
        choice = str(chosen or "").strip().lower()
        location = f"preference {pref_id}"
        if choice == "a":
            yield location, {"prompt": prompt, "chosen": out_a, "rejected": out_b}
        elif choice == "b":
            yield location, {"prompt": prompt, "chosen": out_b, "rejected": out_a}
        else:
            ties.append(pref_id)


def import_reviews(project: Project, name: str = "reviews") -> dict[str, Any]:
    """A preference dataset from every decided pair; a pair with a missing output is skipped
    and reported."""
    db = project.store.db
    if not db["preferences"].count:
        raise UserError("no human preferences in this project yet",
                        hint="compare samples pairwise in `ftp review` first")
    ties: list[int] = []
    return import_records(project, preference_pairs(db, ties), source="reviews", name=name,
                          fmt="preference", on_error="skip", meta={"ties": ties},
                          config={"from_reviews": True})
