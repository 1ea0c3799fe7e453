"""`ftp data diff`, `ftp data stats`, `ftp data show`, `ftp data generate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ftp import api
from ftp.output import echo_json, echo_table
from ftp.progress import info

MODEL_HELP = "Model whose tokenizer to use (default: [model] path in ftp.toml)."


def load_tokenizer(project: api.Project, model: str | None) -> Any:
    """The tokenizer of ``model`` or the project's model, from local files only."""
    from transformers import AutoTokenizer

    from ftp.plugins.models import resolve_model

    folder = resolve_model(model or project.config["model"]["path"])
    return AutoTokenizer.from_pretrained(str(folder))


@click.command("diff")
@click.argument("first")
@click.argument("second")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff_command(first: str, second: str, as_json: bool) -> None:
    """How dataset SECOND differs from FIRST (ids, names or name@version)."""
    from ftp.plugins.data.inspect import diff
    from ftp.project import Project

    result = diff(Project.find(), first, second)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['first']} -> {result['second']}: +{result['added']} added, "
               f"-{result['removed']} removed, {result['unchanged']} unchanged, "
               f"{result['moved_split']} moved to another split")
    rows = [{"split": split, **values} for split, values in result["counts"].items()]
    echo_table(rows, ("split", "first", "second"))
    for title in ("added", "removed"):
        for text in result[f"{title}_examples"]:
            click.echo(f"  {'+' if title == 'added' else '-'} {text}")


@click.command("stats")
@click.argument("dataset", required=False)
@click.option("--model", help=MODEL_HELP)
@click.option("--template", help="Formatter (default: [format] template).")
@click.option("--max-length", type=int, help="Default: [format] max_length.")
@click.option("--histogram", type=click.Path(path_type=Path),
              help="PNG path (default: .ftp/stats/<dataset>.png).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_command(dataset: str | None, model: str | None, template: str | None,
                  max_length: int | None, histogram: Path | None, as_json: bool) -> None:
    """Counts per split and source, token-length percentiles, truncation, a histogram."""
    from ftp.plugins.data.catalog import label, resolve_dataset
    from ftp.plugins.data.inspect import stats
    from ftp.project import Project

    project = Project.find()
    settings = project.config["format"]
    row = resolve_dataset(project, dataset)
    png = histogram or project.state_dir / "stats" / f"{label(row).replace('@', '-')}.png"
    result = stats(project, row["id"], load_tokenizer(project, model),
                   template=template or settings["template"],
                   max_length=max_length or settings["max_length"],
                   truncation=settings["truncation"], histogram=png)
    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['dataset']} (max_length {result['max_length']}, truncation "
               f"{settings['truncation']})")
    rows = [{"split": split, **entry, **entry.get("token_lengths", {}),
             "sources": ", ".join(f"{k} {v}" for k, v in entry["sources"].items())}
            for split, entry in result["splits"].items()]
    echo_table(rows, ("split", "examples", "sources", "p50", "p90", "p99", "p100",
                      "truncated", "dropped", "tokens"))
    info(f"histogram: {png}")


@click.command("show")
@click.argument("dataset", required=False)
@click.option("--split", default="train", show_default=True)
@click.option("-n", "count", type=int, default=3, show_default=True, help="Examples to show.")
@click.option("--tokens", type=int, default=0, help="Show the first N token ids and texts.")
@click.option("--model", help=MODEL_HELP)
@click.option("--template", help="Formatter (default: [format] template).")
def show_command(dataset: str | None, split: str, count: int, tokens: int,
                 model: str | None, template: str | None) -> None:
    """Show examples as stored and, with --tokens N, as the model sees them."""
    import json

    from ftp.plugins.data.catalog import examples, resolve_dataset
    from ftp.project import Project

    project = Project.find()
    row = resolve_dataset(project, dataset)
    tokenizer = load_tokenizer(project, model) if tokens else None
    shown = 0
    for example in examples(project, row["id"], split, include_canaries=False):
        if shown >= count:
            break
        shown += 1
        click.echo(f"--- example {example['idx']} ({example['split']}, "
                   f"{example['source_location']}) tags: {example['tags'] or '-'}")
        click.echo(json.dumps(example["record"], ensure_ascii=False, indent=2))
        if tokenizer is not None:
            _echo_tokens(example["record"], tokenizer,
                         template or project.config["format"]["template"], tokens)
    if not shown:
        click.echo(f"No examples in split {split!r}.")


def _echo_tokens(record: dict, tokenizer: api.Tokenizer, template: str, limit: int) -> None:
    from ftp.plugins.data.formatters import get_formatter
    from ftp.plugins.data.inspect import token_view

    prompt, response = get_formatter(template)(record, tokenizer)
    view = token_view(tokenizer, prompt + response, limit)
    click.echo(f"tokens (first {min(limit, view['total'])} of {view['total']}; "
               f"round trip {'ok' if view['round_trip'] else 'CHANGED the text'}):")
    for token in view["tokens"]:
        click.echo(f"  {token['id']:>7}  {token['text']!r}")


@click.command("generate")
@click.argument("generator")
@click.option("--n", "count", type=int, default=10, show_default=True,
              help="How many records to produce.")
@click.option("--name", help="Dataset name (default: the generator's name).")
@click.option("--spec", type=click.Path(path_type=Path), help="template: the spec file.")
@click.option("--seeds", "seeds", help="self-instruct/evolve: the dataset to start from.")
@click.option("--model", help="self-instruct/evolve: the local model (default: [model]).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--max-new-tokens", type=int, default=256, show_default=True)
def generate_command(generator: str, count: int, name: str | None, spec: Path | None,
                     seeds: str | None, model: str | None, seed: int,
                     max_new_tokens: int) -> None:
    """Generate records with GENERATOR (template, self-instruct, evolve) and import them."""
    from ftp.plugins.data.commands import report_dataset
    from ftp.plugins.data.synth import generate
    from ftp.project import Project

    dataset = generate(Project.find(), generator, n=count, name=name, spec=spec,
                       seeds=seeds, model=model, seed=seed, max_new_tokens=max_new_tokens)
    report_dataset(dataset, as_json=False)


@click.command("export")
@click.argument("dataset", required=False)
@click.option("--split", default="all", show_default=True, help="train, validation, test or all.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The JSONL file to write.")
def export_command(dataset: str | None, split: str, output: Path) -> None:
    """Write a dataset's scrubbed records as JSONL (canaries are never exported)."""
    import json

    from ftp.plugins.data.catalog import examples, resolve_dataset
    from ftp.project import Project

    project = Project.find()
    row = resolve_dataset(project, dataset)
    written = 0
    with output.open("w", encoding="utf-8") as handle:
        for example in examples(project, row["id"], None if split == "all" else split,
                                include_canaries=False):
            handle.write(json.dumps({**example["record"], "split": example["split"]},
                                    ensure_ascii=False) + "\n")
            written += 1
    info(f"wrote {written} records to {output}")


COMMANDS = (diff_command, stats_command, show_command, generate_command, export_command)
