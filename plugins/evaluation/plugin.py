"""The built-in evaluation plugin: benchmark and test-set evaluators, error categorizers and
the `ftp eval`, `ftp errors`, `ftp bench import` commands."""

from __future__ import annotations

import click

from ftp import hookimpl

BENCHMARK_DESCRIPTIONS = {
    "arc_easy": "ARC-Easy through lm-eval (acc, acc_norm)",
    "arc_challenge": "ARC-Challenge through lm-eval (acc, acc_norm)",
    "hellaswag": "HellaSwag validation through lm-eval (acc, acc_norm)",
    "mmlu": "MMLU, 57 subjects and lm-eval's groups, micro-averaged (acc)",
    "truthfulqa_mc1": "TruthfulQA MC1 through lm-eval (acc)",
    "truthfulqa_mc2": "TruthfulQA MC2 through lm-eval (normalised true probability mass)",
}


@hookimpl
def register_evaluators(register) -> None:
    from ftp.plugins.evaluation.benchmarks import BenchmarkEvaluator
    from ftp.plugins.evaluation.testset import evaluate_testset

    register("testset", evaluate_testset,
             description="generation on the project's test split: exact/normalised match, "
                         "token F1, ROUGE-L, JSON validity and field accuracy")
    for name, description in BENCHMARK_DESCRIPTIONS.items():
        register(name, BenchmarkEvaluator(name), description=description)


@hookimpl
def register_error_categorizers(register) -> None:
    from ftp.plugins.evaluation.categorize import BUILTIN

    for name, (function, description) in BUILTIN.items():
        register(name, function, description=description)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from ftp.plugins.evaluation.commands import register

    register(cli)
