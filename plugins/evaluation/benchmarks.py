"""Benchmark evaluators: lm-eval's task definitions and metrics over local files.

Each evaluator runs ``lm_eval.simple_evaluate`` with the job's ``FastLM`` and a
``TaskManager`` that sees only our generated task folder (``include_defaults=False``), then
turns lm-eval's results into result rows and its logged samples into per-document rows
(with per-choice log-likelihoods) that release gates pair across runs.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import lm_eval
from lm_eval.tasks import TaskManager

from ftp.errors import NotFound, UserError
from ftp.plugins.evaluation import tasks
from ftp.plugins.evaluation.job import EvalJob

METRICS = ("acc", "acc_norm")


class BenchmarkEvaluator:
    """The evaluator for one built-in benchmark (``arc_challenge``, ``mmlu``...)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def produces(self) -> dict[str, tuple[str, ...]]:
        """The tasks and metrics gates may name (MMLU: its subjects and groups too)."""
        return {self.name: METRICS, f"{self.name}_*": METRICS}

    def fingerprint(self, job: EvalJob) -> str:
        return tasks.build([self.name]).fingerprint

    def __call__(self, job: EvalJob) -> list[dict[str, Any]]:
        folder = tasks.build([self.name])
        return run_tasks(job, folder.path, [self.name], group=self.name)


class TaskFolderEvaluator:
    """Any user lm-eval task folder (``ftp eval --lm-eval-task PATH``), run the same way."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_dir():
            raise UserError(f"{self.path} is not a folder of lm-eval task YAML files")
        self.name = f"lm-eval:{self.path.name}"

    def task_names(self) -> list[str]:
        manager = TaskManager(include_path=str(self.path), include_defaults=False)
        # a folder with groups runs its groups (they run their members), else its tasks
        names = sorted(manager.all_groups) or sorted(manager.all_subtasks)
        if not names:
            raise UserError(f"{self.path} defines no lm-eval task")
        return names

    def fingerprint(self, job: EvalJob) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.path.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(self.path)).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def __call__(self, job: EvalJob) -> list[dict[str, Any]]:
        return run_tasks(job, self.path, self.task_names(), group=None)


def run_tasks(job: EvalJob, include_path: Path, names: list[str],
              group: str | None) -> list[dict[str, Any]]:
    """Run lm-eval tasks on the job's model; return result rows, record samples."""
    output = simple_evaluate(job.lm(), include_path, names, job.settings)
    for task, samples in output.get("samples", {}).items():
        label = group or task
        prefix = task.removeprefix("mmlu_") + "/" if group == "mmlu" else ""
        job.add_samples(label, [sample_row(s, prefix) for s in samples])
    return result_rows(output)


def simple_evaluate(lm: Any, include_path: Path, names: list[str], settings) -> dict:
    manager = TaskManager(include_path=str(include_path), include_defaults=False)
    _quiet_git_hash()
    try:
        return lm_eval.simple_evaluate(
            model=lm, tasks=list(names), task_manager=manager, num_fewshot=settings.shots,
            limit=settings.limit or None, log_samples=True, random_seed=settings.seed,
            numpy_random_seed=settings.seed, torch_random_seed=settings.seed,
            fewshot_random_seed=settings.seed, verbosity="ERROR")
    except FileNotFoundError as error:
        raise NotFound(f"benchmark data file missing: {error}") from None


def _quiet_git_hash() -> None:
    """lm-eval records ``git describe`` of the working folder; outside a git checkout git
    prints "fatal: not a git repository" to the user's terminal. Same lookup, stderr muted."""
    import lm_eval.evaluator

    def git_hash() -> str | None:
        try:
            found = subprocess.run(["git", "describe", "--always"], capture_output=True,
                                   text=True, check=False)
        except OSError:
            return None
        return found.stdout.strip() or None

    lm_eval.evaluator.get_git_commit_hash = git_hash


def result_rows(output: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    counts = output.get("n-samples", {})
    for task, values in output["results"].items():
        for key, value in values.items():
            metric, _, filter_name = key.partition(",")
            if "_stderr" in metric or not isinstance(value, (int, float)) or \
                    metric in ("alias", "sample_len", "sample_count"):
                continue
            stderr = values.get(f"{metric}_stderr,{filter_name}")
            rows.append({"task": task, "metric": metric, "value": float(value),
                         "stderr": float(stderr) if isinstance(stderr, (int, float)) else None,
                         "n": _count(task, counts, output)})
    return rows


def _count(task: str, counts: dict[str, Any], output: dict[str, Any]) -> int | None:
    if task in counts:
        return int(counts[task]["effective"])
    members = output.get("group_subtasks", {}).get(task, [])
    found = [_count(member, counts, output) for member in members]
    return sum(n for n in found if n is not None) if found else None


def sample_row(sample: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One logged lm-eval document as a ``samples`` row (pairs across runs by doc_id)."""
    arguments = sample.get("arguments") or []
    responses = sample.get("filtered_resps") or []
    choices = [arg[1] for arg in arguments if isinstance(arg, (list, tuple)) and len(arg) > 1]
    logliks = [float(r[0]) for r in responses if isinstance(r, (list, tuple))]
    scores = {m: float(sample[m]) for m in METRICS if isinstance(sample.get(m), (int, float))}
    for metric in sample.get("metrics") or []:
        if metric not in scores and isinstance(sample.get(metric), (int, float)):
            scores[metric] = float(sample[metric])
    row = {"doc_id": f"{prefix}{sample['doc_id']}",
           "prompt": arguments[0][0] if arguments and isinstance(arguments[0], (list, tuple))
           else str(arguments[0] if arguments else ""),
           "scores": {**scores, "loglikelihoods": logliks},
           "meta": {"doc_hash": sample.get("doc_hash")}}
    if logliks and len(choices) == len(logliks):
        target = sample.get("target")
        row["output"] = choices[max(range(len(logliks)), key=logliks.__getitem__)]
        row["reference"] = choices[target] if isinstance(target, int) and \
            0 <= target < len(choices) else str(target)
    else:
        row["output"] = str(responses[0]) if responses else ""
        row["reference"] = str(sample.get("target", ""))
    return row
