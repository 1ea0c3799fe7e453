"""`ftp quickstart [DIR]`: the example project, then the whole loop on it.

Writes ``ftp.toml``, ``gates.toml`` and ``data/tickets.jsonl`` (generated, seeded) into a new
folder, installs the default model (unless ``--model`` names one), and runs every stage:
import with PII scrubbing, evaluation of the base model, LoRA fine-tuning, evaluation of the
fine-tuned model on the test split and a benchmark subset, the gates and the HTML report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ftp.api import Project
from ftp.errors import UserError
from ftp.plugins.evaluation import benchdata
from ftp.plugins.loop import tickets
from ftp.plugins.models import DEFAULT_MODEL
from ftp.plugins.models.pull import pull
from ftp.progress import info

BENCHMARK = "arc_easy"


@dataclass
class QuickstartOptions:
    model: str | None = None
    steps: int | None = None  # train max_steps (None: one epoch)
    limit: int | None = None  # eval documents per task (None: the example's 50)
    examples: int = 300
    bench_data: Path | None = None


def _example(name: str) -> str:
    return resources.files("ftp.plugins.loop").joinpath(f"example/{name}").read_text()


def render_config(project_name: str, model: str, options: QuickstartOptions,
                  with_benchmark: bool) -> str:
    text = _example("ftp.toml").replace("{name}", project_name)
    text = text.replace('path = "smollm2-135m-instruct"', f"path = {json.dumps(model)}")
    if options.steps:
        text = text.replace("epochs = 1\n", f"epochs = 1\nmax_steps = {options.steps}\n"
                            "save_steps = 1000\n")
    if options.limit:
        text = re.sub(r"^limit = \d+$", f"limit = {options.limit}", text, flags=re.M)
    if not with_benchmark:
        text = text.replace('suite = ["testset", "arc_easy"]', 'suite = ["testset"]')
    return text


def check_empty(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"{folder} is not empty; quickstart creates a new project",
                        hint="pass a new or empty folder: `ftp quickstart my-first-project`")


def _benchmark_ready(options: QuickstartOptions) -> bool:
    """The ARC-Easy subset is evaluated when its data is installed (or given)."""
    if options.bench_data:
        benchdata.import_benchmark(BENCHMARK, options.bench_data)
    if (benchdata.install_dir(BENCHMARK) / "manifest.json").is_file():
        return True
    info(f"note: no {BENCHMARK} data installed, so the benchmark check is skipped; "
         f"{benchdata.import_hint(BENCHMARK)}, or pass --bench-data")
    return False


def _model(options: QuickstartOptions) -> str:
    if options.model:
        return options.model
    pull(DEFAULT_MODEL)
    return DEFAULT_MODEL


def create(folder: Path, options: QuickstartOptions) -> Any:
    """The example project in ``folder`` (which must be new or empty)."""
    from ftp.project import Project

    check_empty(folder)
    model = _model(options)
    with_benchmark = _benchmark_ready(options)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ftp.toml").write_text(render_config(folder.name, model, options, with_benchmark))
    (folder / "gates.toml").write_text(_gates(with_benchmark))
    tickets.write_jsonl(folder / "data" / "tickets.jsonl", n=options.examples)
    project = Project(folder)
    project.store  # noqa: B018 - creates the store
    info(f"Created the example project in {folder} ({options.examples} support emails)")
    return project


def _gates(with_benchmark: bool) -> str:
    text = _example("gates.toml")
    return text if with_benchmark else text.split("\n# ...without losing")[0] + "\n"


def summary(project: Project, outcome: Any) -> list[str]:
    """Lines saying what changed: each metric before -> after, stage times, where to look."""
    store = project.store
    before = _values(store, outcome.base_eval)
    after = _values(store, outcome.eval_run)
    lines = []
    for key in ("testset/field_accuracy", "testset/json_valid", f"{BENCHMARK}/acc"):
        if key in after:
            was = f"{before[key]:.3f} -> " if key in before else ""
            lines.append(f"{key}: {was}{after[key]:.3f}")
    lines.append("stage times: " + ", ".join(f"{k} {v:.0f}s" for k, v in outcome.timings.items()))
    passed = sum(d["passed"] for d in outcome.decisions)
    lines.append(f"gates: {passed}/{len(outcome.decisions)} passed")
    if outcome.report:
        lines.append(f"report: {outcome.report}")
    return lines


def _values(store: Any, run_id: int | None) -> dict[str, float]:
    if run_id is None:
        return {}
    return {f"{r['task']}/{r['metric']}": r["value"] for r in store.eval_results(run_id)}
