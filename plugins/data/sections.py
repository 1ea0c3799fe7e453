"""The ``[data]`` and ``[format]`` sections of ftp.toml; ``[data]``'s cross-key rules are
``ftp.plugins.data.settings.check_data``."""

from __future__ import annotations

from ftp import hookimpl
from ftp.api import RegisterSettings, Setting
from ftp.plugins.data.settings import check_data

DATA = (
    Setting("sources", list, [], "files to import with `ftp data import`",
            comment="Files to import with `ftp data import`: JSONL, JSON, CSV/TSV, Parquet, "
                    "SQLite, folders."),
    Setting("format", str, "auto", "the record format, or \"auto\" to detect it",
            comment='Record format: "auto", "alpaca", "prompt_completion", "chat", '
                    '"preference" or "text".'),
    Setting("map", dict, {}, "your field names mapped to ftp's",
            comment="Map your field names to ftp's, e.g. "
                    "{ instruction = \"question\", output = \"answer\" }."),
    Setting("on_error", str, "fail", "what to do with a bad record", choices=("fail", "skip"),
            comment='What to do with a bad record: "fail" (store nothing) or "skip" '
                    "(store the rest, report each)."),
    Setting("validation_fraction", float, 0.05, "the fraction that goes to validation",
            minimum=0, maximum=1,
            comment="Fractions of the data that go to validation and test, split by a hash "
                    "of `split_key`:\na record field (e.g. \"instruction\"), or \"\" for the "
                    "whole prompt (instruction and input)."),
    Setting("test_fraction", float, 0.1, "the fraction that goes to test", minimum=0,
            maximum=1),
    Setting("split_key", str, "", "the field whose hash decides the split (\"\": the whole "
            "prompt; one constant instruction cannot split)"),
    Setting("stratify", str, "", "a field whose values keep the same proportions per split",
            comment='Split so each value of this field has the same proportions ("" = plain '
                    "hash split)."),
    Setting("near_duplicate_threshold", float, 0.9, "MinHash similarity that drops a record",
            minimum=0, maximum=1,
            comment="Drop records at least this similar (MinHash Jaccard) to an earlier one; "
                    "0 = exact only."),
    Setting("contamination_threshold", float, 0.8,
            "similarity of a test prompt to a training prompt that is flagged", minimum=0,
            maximum=1,
            comment="Flag test/validation prompts this similar to a training prompt; "
                    "0 = no check."),
)

FORMAT = (
    Setting("template", str, "chat_template", "the prompt template",
            comment='"chat_template" (the tokenizer\'s own), "alpaca", "plain", or a path to '
                    "a Jinja template."),
    Setting("max_length", int, 1024, "the longest example in tokens", minimum=1),
    Setting("truncation", str, "drop", "what to do with an example over max_length",
            choices=("drop", "truncate", "error"),
            comment='What to do with an example longer than max_length: "drop", "truncate" '
                    'or "error".'),
    Setting("train_on_responses_only", bool, True, "loss on responses only",
            comment="Train on responses only (true) or on the whole text (false)."),
)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register("data", DATA, check=check_data)
    register("format", FORMAT)
