"""The ``[eval]`` and ``[gates]`` sections of ftp.toml (``ftp.api.EvalSettings.from_config``
is the one constructor that reads ``[eval]``)."""

from __future__ import annotations

from ftp import hookimpl
from ftp.api import RegisterSettings, Setting

EVAL = (
    Setting("suite", list, ["testset"], "the evaluators to run",
            comment='Evaluators to run (by `ftp eval`, `ftp run` and on each `ftp sweep` '
                    'point): "testset" plus\nbenchmarks "arc_easy", "arc_challenge", '
                    '"hellaswag", "mmlu", "truthfulqa_mc1", "truthfulqa_mc2".'),
    Setting("limit", int, 0, "documents per task (0: all)", minimum=0),
    Setting("shots", int, -1, "few-shot examples (-1: the task's default)", minimum=-1),
    Setting("batch_size", int, 8, "prompts per batch", minimum=1),
    Setting("max_new_tokens", int, 256, "the longest generated answer", minimum=1),
    Setting("samples", int, 1, "testset: answers per prompt", minimum=1,
            comment="testset: answers per prompt. Above 1, samples - 1 more answers are "
                    "drawn at `temperature`\n(seeded) and compared with the greedy one: the "
                    '"inconsistent" error category.'),
    Setting("temperature", float, 0.7, "testset: temperature of the sampled answers",
            minimum=0),
    Setting("judge_model", str, "", "testset: a local model that rates each answer",
            comment="testset: an optional judge, any local model (folder, known name or "
                    "train run) that rates\neach answer 1-5 against the reference; \"\" = "
                    "no judge. The rubric says what a good answer is\n(\"\" = a built-in "
                    "rubric: correct and complete against the reference)."),
    Setting("judge_rubric", str, "", "testset: what the judge counts as a good answer"),
)

GATES = (
    Setting("file", str, "gates.toml", "the gates file ftp run and ftp eval --gates read",
            comment="A gates file holding floors, maximum drops and significance levels "
                    "(see README)."),
)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register("eval", EVAL)
    register("gates", GATES)
