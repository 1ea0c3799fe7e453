"""An optional judge for the ``testset`` evaluator: any local model rates each answer.

The rubric (what a good answer is) comes from ``[eval] judge_rubric`` in ftp.toml and the
model from ``[eval] judge_model`` (a folder, a known name or a train run). The judge sees the
question, the reference and the answer, and is asked for "Score: N" on a 1-5 scale; its reply
is parsed leniently (``Score: 4``, ``4/5``, ``PASS``/``FAIL``, a bare leading number). Replies
it cannot read count in ``judge_parsed`` and are left out of ``judge_score`` (scaled 0-1).
"""

from __future__ import annotations

import re
from typing import Any

from ftp.api import Tokenizer
from ftp.plugins.generation.batch import generate
from ftp.plugins.models import load_model

DEFAULT_RUBRIC = ("Rate how well the answer answers the question, using the reference answer "
                  "as the truth: 1 = wrong or unrelated, 3 = partly right, 5 = fully right "
                  "and complete.")
PROMPT = ("{rubric}\n\nQuestion:\n{question}\n\nReference answer:\n{reference}\n\n"
          "Answer to rate:\n{output}\n\nReply with one line: \"Score: N\" (N from 1 to {scale}).")
SCALE = 5
_PATTERNS = (
    re.compile(r"\b(?:score|rating|grade)\s*(?:is|of)?\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)"
               r"(?:\s*(?:/|out of)\s*(\d+))?", re.IGNORECASE),
    re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+)\b", re.IGNORECASE),
    re.compile(r"^\s*(\d+(?:\.\d+)?)(?![\d.])"),
)
_VERDICT = re.compile(r"\b(pass|fail)(?:ed|s)?\b", re.IGNORECASE)


def parse_score(text: str, scale: int = SCALE) -> float | None:
    """The judge's rating scaled to 0-1, or None when the reply holds no readable rating."""
    for pattern in _PATTERNS:
        match = pattern.search(text or "")
        if not match:
            continue
        value = float(match.group(1))
        out_of = float(match.group(2)) if match.lastindex and match.lastindex > 1 and \
            match.group(2) else float(scale)
        if out_of > 1 and 1 <= value <= out_of:
            return (value - 1) / (out_of - 1)
        return None
    verdict = _VERDICT.search(text or "")
    if verdict:
        return 1.0 if verdict.group(1).lower() == "pass" else 0.0
    return None


def judge_prompt(rubric: str | None, question: str, reference: str, output: str) -> str:
    return PROMPT.format(rubric=(rubric or DEFAULT_RUBRIC).strip(), question=question.strip(),
                         reference=reference.strip(), output=output.strip(), scale=SCALE)


def judge_samples(job: Any, samples: list[dict[str, Any]], questions: list[str]) -> None:
    """Rate every sample with the configured judge; add scores and the raw reply."""
    settings = job.settings
    model, tokenizer = load_model(settings.judge_model, job.project)
    model.eval()
    prompts = [_chat(tokenizer, judge_prompt(settings.judge_rubric, q, s["reference"],
                                             s["output"]))
               for q, s in zip(questions, samples, strict=True)]
    replies = generate(model, tokenizer, prompts, 16, settings.batch_size)
    for sample, reply in zip(samples, replies, strict=True):
        text = reply[0]
        value = parse_score(text)
        sample["scores"]["judge_parsed"] = float(value is not None)
        if value is not None:
            sample["scores"]["judge_score"] = value
        sample["meta"]["judge"] = text


def _chat(tokenizer: Tokenizer, text: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                             tokenize=False, add_generation_prompt=True)
    return text + "\n"
