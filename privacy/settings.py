"""Checks of the ``[privacy]`` section: a typo must never switch scrubbing off quietly.

``check_privacy(values, path)`` is the section's cross-key check (``ftp.api.SectionCheck``):
it refuses an unknown entity name (listing the valid ones: Presidio's built-ins, the
entities of plugins' recognizers and the keys of ``patterns``), a score threshold outside
0-1, an unknown tier or operator and operators for entities nobody finds.
``weakening_warnings(values)`` names every setting that scrubs less than the defaults
(the ``patterns`` tier, an entity dropped, an operator ``keep``...), one line each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ftp.errors import ConfigError

# Entities Presidio's built-in recognizers find in ftp's engine (ftp.privacy.engine).
BUILTIN_ENTITIES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN",
                    "IBAN_CODE", "IP_ADDRESS", "LOCATION", "NRP")
NUMBER_KEYS = {"score_threshold": (0.0, 1.0), "workers": (0, None), "batch_size": (1, None),
               "canaries": (0, None)}


def check_privacy(values: dict[str, Any], path: str = "ftp.toml") -> None:
    """Raise ``ConfigError`` naming ``path`` and the key for a setting that would scrub
    less than the user meant (an unknown entity is dropped by Presidio without a word)."""
    from ftp.privacy.engine import TIERS
    from ftp.privacy.operators import OPERATORS

    where = f"{path}: privacy"
    tier = values.get("tier", "ner")
    if tier not in TIERS:
        raise ConfigError(f"{where}.tier: unknown privacy tier {tier!r}; valid: "
                          f"{', '.join(TIERS)}")
    _check_numbers(values, where)
    patterns = values.get("patterns") or {}
    if not isinstance(patterns, dict):
        raise ConfigError(f"{where}.patterns must be a table of ENTITY = regex")
    entities = values.get("entities")
    entities = [] if entities is None else entities
    if isinstance(entities, str) or not all(isinstance(e, str) for e in entities):
        raise ConfigError(f"{where}.entities must be a list of entity names")
    known = valid_entities(patterns, wanted=[*entities, *(values.get("operators") or {})])
    _refuse_unknown(entities, known, f"{where}.entities")
    operators = values.get("operators") or {}
    _refuse_unknown(list(operators), known, f"{where}.operators")
    for key, operator in {**operators, "default_operator":
                          values.get("default_operator", "placeholder")}.items():
        if operator not in OPERATORS:
            name = "default_operator" if key == "default_operator" else f"operators.{key}"
            raise ConfigError(f"{where}.{name}: unknown operator {operator!r}; valid: "
                              f"{', '.join(OPERATORS)}")


def _check_numbers(values: dict[str, Any], where: str) -> None:
    for key, (low, high) in NUMBER_KEYS.items():
        if key not in values or values[key] is None:
            continue
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{key}: expected a number, got {type(value).__name__}")
        if value < low or (high is not None and value > high):
            bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
            raise ConfigError(f"{where}.{key} = {value!r} is out of range: it must be {bound}",
                              hint="a threshold above 1 would scrub nothing"
                              if key == "score_threshold" else None)


def valid_entities(patterns: dict[str, Any] | None = None,
                   wanted: Iterable[str] = ()) -> list[str]:
    """Every entity a scrubber can find: built-in, custom patterns, plugins' recognizers.

    Plugins' recognizers are only collected when ``wanted`` names something else (it
    builds them, and most configurations name only built-in entities)."""
    known = [*BUILTIN_ENTITIES, *(e for e in (patterns or {}) if e not in BUILTIN_ENTITIES)]
    if all(entity in known for entity in wanted):
        return known
    from ftp.registry import collect

    for registered in collect("pii_detectors").values():
        known += [e for e in registered.obj.supported_entities if e not in known]
    return known


def _refuse_unknown(names: list[str], known: list[str], where: str) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"{where}: unknown entit{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))}; valid: {', '.join(known)}",
            hint="an unknown name would be ignored and that PII kept; a new kind needs a "
                 "privacy.patterns entry or a plugin recognizer")


def weakening_warnings(values: dict[str, Any]) -> list[str]:
    """One line per setting that scrubs less than the defaults (no values quoted)."""
    from ftp.privacy.scrubber import DEFAULT_ENTITIES

    found = []
    if values.get("tier", "ner") == "patterns":
        found.append("privacy.tier = \"patterns\": person names and places are not searched "
                     "by NER and most of them are kept")
    entities = values.get("entities")
    dropped = [e for e in DEFAULT_ENTITIES if entities and e not in entities]
    if dropped:
        found.append(f"privacy.entities leaves out {', '.join(dropped)}: kept as they are")
    kept = sorted(e for e, op in (values.get("operators") or {}).items() if op == "keep")
    if kept:
        found.append(f"privacy.operators keeps {', '.join(kept)} as found")
    if values.get("default_operator") == "keep":
        found.append("privacy.default_operator = \"keep\": found PII is kept as it is")
    threshold = values.get("score_threshold")
    if isinstance(threshold, (int, float)) and threshold > 0.5:
        found.append(f"privacy.score_threshold = {threshold:g} keeps findings the default "
                     "(0.3) would scrub")
    if values.get("allow_list"):
        found.append(f"privacy.allow_list: {len(values['allow_list'])} term(s) are never "
                     "scrubbed")
    return found


def never_found(entities: Iterable[str], report: dict[str, Any]) -> str | None:
    """A line naming the configured entities an import found none of (no values)."""
    missing = [e for e in entities if not report.get("entities", {}).get(e)]
    if not missing or not report.get("records"):
        return None
    return (f"privacy: no {', '.join(missing)} found in {report['records']} records "
            "(expected? check the [privacy] entities and patterns)")
