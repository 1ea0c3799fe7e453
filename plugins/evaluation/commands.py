"""`ftp eval`, `ftp errors`, `ftp bench import|list`: evaluation from the command line.

Exit statuses follow CI conventions: 0 all gates passed, 1 a gate failed, 2 bad input.
Heavy libraries are imported inside the commands so `ftp --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from ftp.output import echo_json, echo_table
from ftp.progress import info

GATE_COLUMNS = ("gate", "passed", "value", "baseline_value", "difference", "p_value", "reason")


def register(cli: click.Group) -> None:
    from ftp.cli import subgroup

    cli.add_command(eval_command)
    cli.add_command(errors_command)
    bench = subgroup(cli, "bench", "Benchmarks: import their data, measure speed.")
    bench.add_command(bench_import)
    bench.add_command(bench_list)


def _split(value: str | None) -> list[str] | None:
    return [item.strip() for item in value.split(",") if item.strip()] if value else None


@click.command("eval")
@click.argument("model", required=False)
@click.option("--suite", help="Comma-separated evaluators, e.g. testset,arc_challenge "
              "(default: [eval] suite in ftp.toml).")
@click.option("--lm-eval-task", "task_dirs", multiple=True,
              type=click.Path(path_type=Path), help="A folder of lm-eval task YAMLs to run too.")
@click.option("--limit", type=int, help="Documents per task (0: all).")
@click.option("--shots", type=int, help="Few-shot examples (-1: each task's default).")
@click.option("--batch-size", type=int, help="Batch size (pinned: it changes scores).")
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--samples", type=int, help="testset: answers per prompt; K > 1 samples K - 1 "
              "more (feeds the 'inconsistent' category). Default: [eval] samples.")
@click.option("--temperature", type=float, help="testset: temperature of the extra samples.")
@click.option("--device", help="cpu, cuda, cuda:1... (default: best available).")
@click.option("--baseline", help="An eval run, train run or model to compare against.")
@click.option("--gates", "gates_path", type=click.Path(path_type=Path),
              help="Gates file (floors, maximum drops, significance).")
@click.option("--name", help="A name for the eval run.")
@click.option("--model-name", help="MODEL is an endpoint URL: the model name it serves "
              "(default: the first it lists).")
@click.option("--api-key", help="MODEL is an endpoint URL: its Bearer key.")
@click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@click.option("--markdown", type=click.Path(path_type=Path), help="Write a markdown summary.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_command(model, suite, task_dirs, limit, shots, batch_size, seed, samples, temperature,
                 device, baseline, gates_path, name, model_name, api_key, junit, markdown,
                 as_json) -> None:
    """Evaluate MODEL (a model, a train run: id or name, or a served endpoint
    http://HOST:PORT/v1) and gate the release.

    Exit 0 when every gate passes, 1 when one fails, 2 for bad input.
    """
    from ftp.plugins.evaluation.cli_eval import run_eval

    run_eval(model=model, suite=_split(suite), task_dirs=list(task_dirs), limit=limit,
             shots=shots, batch_size=batch_size, seed=seed, device=device, baseline=baseline,
             gates_path=gates_path, name=name, junit=junit, markdown=markdown, as_json=as_json,
             sampling=(samples, temperature), endpoint=(model_name, api_key))


@click.command("errors")
@click.argument("run")
@click.option("--compare", "other", help="A second eval run: what went up or down.")
@click.option("--examples", type=int, default=2, show_default=True,
              help="Examples shown per category.")
@click.option("--task", help="Only samples of this task.")
@click.option("--recategorize", is_flag=True, help="Run the categorizers again first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def errors_command(run, other, examples, task, recategorize, as_json) -> None:
    """Error categories of an eval run's samples, with examples."""
    from ftp.plugins.evaluation.error_report import show_errors

    show_errors(run, other, examples, task, recategorize, as_json)


@click.command("import")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--no-check-counts", is_flag=True,
              help="Install even if item counts differ from the official release.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_import(name: str, path: Path, no_check_counts: bool, as_json: bool) -> None:
    """Install benchmark NAME (arc, arc_easy, arc_challenge, mmlu, truthfulqa, hellaswag)
    from the official release files or a Hugging Face parquet/arrow export at PATH."""
    from ftp.plugins.evaluation.benchdata import import_benchmark

    installed = import_benchmark(name, path, check_counts=not no_check_counts)
    if as_json:
        echo_json(installed)
        return
    for item in installed:
        counts = ", ".join(f"{split} {n}" for split, n in sorted(item["counts"].items()))
        info(f"Installed {item['name']} ({counts}) in {item['path']}")


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench_list(as_json: bool) -> None:
    """Benchmarks and whether their data is installed."""
    from ftp.plugins.evaluation.benchdata import SPECS, install_dir

    rows = []
    for name in sorted(SPECS):
        manifest = install_dir(name) / "manifest.json"
        if manifest.is_file():
            import json

            counts = json.loads(manifest.read_text())["counts"]
            rows.append({"benchmark": name, "installed": True, "counts": counts,
                         "path": str(install_dir(name))})
        else:
            rows.append({"benchmark": name, "installed": False, "counts": None, "path": None})
    if as_json:
        echo_json(rows)
    else:
        echo_table([{**r, "counts": ", ".join(f"{k} {v}" for k, v in (r["counts"] or {})
                                             .items())} for r in rows],
                   ("benchmark", "installed", "counts", "path"))
