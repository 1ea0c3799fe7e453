"""The store's schema, as append-only migrations. Never edit one that has shipped: add the
next ``mNNN_...`` instead. Later capabilities add columns, not rewrites.

These are the core's tables. A capability that needs tables of its own carries its own
``sqlite_utils.Migrations`` set (as llm's embeddings migrations do) and registers it through
the ``register_migrations`` hook; the store applies every set when it opens, after these."""

from __future__ import annotations

import json

from sqlite_utils import Database, Migrations

migrations = Migrations("ftp")


def capability_migrations() -> list[Migrations]:
    """The migration sets plugins register (``register_migrations``), built-ins first; a set
    name registered twice is an error naming both plugins."""
    from ftp.errors import PluginError
    from ftp.plugin_manager import get_plugin_manager, trace

    found: dict[str, tuple[Migrations, str]] = {}
    for impl in get_plugin_manager().hook.register_migrations.get_hookimpls():
        def register(owned: Migrations, plugin: str = impl.plugin_name) -> None:
            if owned.name == migrations.name or owned.name in found:
                other = found[owned.name][1] if owned.name in found else "ftp's core"
                raise PluginError(f"migrations {owned.name!r} are registered by both {other} "
                                  f"and {plugin}", hint="name a plugin's migrations after it")
            found[owned.name] = (owned, plugin)

        impl.function(register=register)
        trace("register_migrations", impl.plugin_name, "registered")
    return [owned for owned, _ in found.values()]


@migrations(name="m001_initial")
def m001_initial(db: Database) -> None:
    db["datasets"].create(
        {
            "id": int, "name": str, "version": int, "parent_id": int, "content_hash": str,
            "source": str, "format": str, "counts": str, "scrub_report": str,
            "meta": str, "created_at": str,
        },
        pk="id", foreign_keys=[("parent_id", "datasets", "id")],
    )
    db["datasets"].create_index(["name", "version"], unique=True)
    db["examples"].create(
        {
            "id": int, "dataset_id": int, "idx": int, "split": str, "key_hash": str,
            "content_hash": str, "record": str, "source_location": str, "tags": str,
        },
        pk="id", foreign_keys=[("dataset_id", "datasets", "id")],
    )
    db["examples"].create_index(["dataset_id", "split"])
    db["runs"].create(
        {
            "id": int, "kind": str, "name": str, "status": str, "config": str,
            "parent_id": int, "model": str, "dataset_id": int, "artifacts_path": str,
            "started_at": str, "finished_at": str, "duration_s": float, "pid": int,
            "pid_started": str, "host": str, "versions": str, "error": str, "summary": str,
        },
        pk="id",
        foreign_keys=[("parent_id", "runs", "id"), ("dataset_id", "datasets", "id")],
    )
    db["runs"].create_index(["status"])
    db["metrics"].create(
        {"run_id": int, "step": int, "name": str, "value": float, "split": str, "ts": str},
        pk=("run_id", "step", "name", "split"), foreign_keys=[("run_id", "runs", "id")],
    )
    db["eval_results"].create(
        {
            "id": int, "run_id": int, "task": str, "metric": str, "value": float,
            "stderr": float, "n": int, "model_hash": str, "config_hash": str,
            "settings": str, "created_at": str,
        },
        pk="id", foreign_keys=[("run_id", "runs", "id")],
    )
    db["eval_results"].create_index(["run_id", "task", "metric"])
    db["samples"].create(
        {
            "id": int, "run_id": int, "task": str, "doc_id": str, "prompt": str,
            "output": str, "reference": str, "scores": str, "categories": str,
            "meta": str,
        },
        pk="id", foreign_keys=[("run_id", "runs", "id")],
    )
    db["samples"].create_index(["run_id", "task", "doc_id"])
    db["gate_decisions"].create(
        {
            "id": int, "run_id": int, "baseline_run_id": int, "gate": str, "task": str,
            "metric": str, "passed": int, "value": float, "baseline_value": float,
            "difference": float, "p_value": float, "ci_low": float, "ci_high": float,
            "reason": str, "created_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id"), ("baseline_run_id", "runs", "id")],
    )
    db["ratings"].create(
        {
            "id": int, "sample_id": int, "run_id": int, "reviewer": str, "score": float,
            "passed": int, "tags": str, "note": str, "created_at": str,
        },
        pk="id",
        foreign_keys=[("sample_id", "samples", "id"), ("run_id", "runs", "id")],
    )
    db["preferences"].create(
        {
            "id": int, "prompt": str, "sample_a": int, "sample_b": int, "chosen": str,
            "reviewer": str, "note": str, "created_at": str,
        },
        pk="id",
        foreign_keys=[("sample_a", "samples", "id"), ("sample_b", "samples", "id")],
    )


@migrations(name="m002_canaries")
def m002_canaries(db: Database) -> None:
    """Random secrets inserted into training splits, for `ftp audit leakage`."""
    db["canaries"].create(
        {
            "id": int, "dataset_id": int, "secret": str, "prefix": str, "instruction": str,
            "record": str, "secret_format": str, "seed": int, "created_at": str,
        },
        pk="id", foreign_keys=[("dataset_id", "datasets", "id")],
    )
    db["canaries"].create_index(["dataset_id"])


@migrations(name="m003_eval_cache_index")
def m003_eval_cache_index(db: Database) -> None:
    """Look up cached evaluation results by (model weights hash, task config hash)."""
    db["eval_results"].create_index(["model_hash", "config_hash"], if_not_exists=True)


@migrations(name="m004_pipeline_stages")
def m004_pipeline_stages(db: Database) -> None:
    """`ftp run`: which run did each stage with which inputs (a hash), to skip or resume."""
    db["pipeline_stages"].create(
        {
            "id": int, "stage": str, "key": str, "run_id": int, "dataset_id": int,
            "status": str, "detail": str, "created_at": str, "updated_at": str,
        },
        pk="id", foreign_keys=[("run_id", "runs", "id"), ("dataset_id", "datasets", "id")],
    )
    db["pipeline_stages"].create_index(["stage", "key"])


@migrations(name="m005_relative_run_paths")
def m005_relative_run_paths(db: Database) -> None:
    """Run folders (and a train run's final model) relative to the project, so a copied or
    moved project reads and writes its own folders, not the original's."""
    for row in list(db["runs"].rows_where("artifacts_path like '/%'")):
        update = {"artifacts_path": _relative_run_path(row["artifacts_path"])}
        summary = json.loads(row["summary"]) if row["summary"] else {}
        if isinstance(summary.get("final_model"), str):
            summary["final_model"] = _relative_run_path(summary["final_model"])
            update["summary"] = json.dumps(summary, sort_keys=True, default=str)
        db["runs"].update(row["id"], update)


def _relative_run_path(path: str) -> str:
    mark = "/.ftp/runs/"
    return ".ftp/runs/" + path.rsplit(mark, 1)[1] if mark in path else path


@migrations(name="m006_id_marks")
def m006_id_marks(db: Database) -> None:
    """The highest id each table has handed out, so a deleted row's id is never reused."""
    db["id_marks"].create({"name": str, "value": int}, pk="name")
    top = db.execute("select coalesce(max(id), 0) from runs").fetchone()[0]
    db["id_marks"].insert({"name": "runs", "value": top})
