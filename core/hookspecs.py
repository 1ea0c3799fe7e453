"""Every hook ftp calls. Built-in plugins implement these exactly as third-party ones do.

The registration hooks follow llm's shape: ftp calls ``register_X(register)`` whenever it
needs that kind of capability (so a hook must be cheap and free of side effects: import
heavy libraries inside the objects it registers), and each plugin calls
``register(name, obj, description=...)`` for every capability it provides. A name
registered twice is an error naming both plugins, raised when that name is used. What each
registered object must look like is a typed ``Protocol`` in ``ftp.api`` (named in each
docstring below); ``docs/plugins.md`` has an example of each. The lifecycle hooks let
plugins observe runs; their return values are ignored, and one that raises is reported in
one line naming the plugin, without changing the run's outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from ftp.api import Project, Register, RegisterMigrations, RegisterSettings, RunRecord

if TYPE_CHECKING:
    import click

__all__ = ["Register", "RegisterMigrations", "RegisterSettings", "hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("ftp")
hookimpl = pluggy.HookimplMarker("ftp")


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``ftp`` command line.

    Called once when the CLI is built, before arguments are parsed, so a command module must
    import only click at module level and defer heavy imports into the command body.
    """


@hookspec
def register_data_sources(register: Register) -> None:
    """Register readers of raw records: ``register("jsonl", reader, suffixes=[".jsonl"])``.

    Called when data is imported. A reader is an ``ftp.api.DataSource``: a callable
    ``reader(path, **options)`` that yields ``(location, record)`` pairs, where ``location``
    is the 1-based line (or row) number used in error messages and ``record`` a ``dict``. It
    raises ``ftp.errors.InputError`` naming the file and line (never quoting the record) for
    unreadable input. Readers must stream: a multi-GB file is read in constant memory.
    ``suffixes`` are the file suffixes it handles: ``ftp data import x.acme`` picks the
    reader that claims ``.acme``, ``--format NAME`` picks one by name. Two plugins claiming
    one suffix is an error for files with that suffix only, naming both.
    """


@hookspec
def register_record_formats(register: Register) -> None:
    """Register record formats (alpaca, prompt/completion, chat messages, preference, text).

    Called when data is imported or formatted. Each object is an ``ftp.api.RecordFormat``:
    ``name``, ``detect(record) -> bool``, ``validate(record) -> dict`` returning the
    normalised record (with ``"format": name``) or raising ``ValueError`` with the reason
    (which the caller turns into an ``InputError`` with file and line), and
    ``prompt(record)`` / ``response(record)`` reading a normalised record.
    """


@hookspec
def register_formatters(register: Register) -> None:
    """Register formatters that turn a normalised record into model input.

    Called when data is prepared for training or evaluation. A formatter is an
    ``ftp.api.Formatter``: a callable ``formatter(record, tokenizer) -> (prompt_text, response_text)``; the response part is
    the only part that carries loss by default. Optionally ``formatter.prepare(tokenizer)``
    returns a callable bound to that tokenizer (read once) giving ``(prompt, response,
    prompt, response, ...)``, so every assistant turn of a conversation is trained
    (``ftp.api.PreparingFormatter``).
    """


@hookspec
def register_generators(register: Register) -> None:
    """Register synthetic data generators (``self-instruct``, ``evolve``, ``template``).

    Called by ``ftp data generate``. A generator is an ``ftp.api.Generator``: a callable
    ``generator(project, n=..., **options)`` yielding normalised records, each tagged with
    the generator's name and the model used.
    """


@hookspec
def register_trainers(register: Register) -> None:
    """Register training methods (``lora``, ``freeze``, ``full``, ``qlora``, ``dpo``).

    Called by ``ftp train`` and ``ftp sweep``. A trainer is an ``ftp.api.Trainer``: a
    callable ``trainer(job) -> dict`` that trains on ``job``'s data (an
    ``ftp.api.TrainJob``), writes checkpoints under ``job.output_dir``, the final model to
    ``job.final_dir`` and per-step metrics through ``job.log``, and returns summary metrics.
    An optional ``trainer.check(settings)`` (``ftp.api.CheckedTrainer``) raises
    ``UserError`` before the run is recorded. ``job.settings`` as the trainer leaves it is
    stored as the run's config.
    """


@hookspec
def register_evaluators(register: Register) -> None:
    """Register evaluators (benchmarks through lm-eval, the user's test set, judges).

    Called by ``ftp eval``, ``ftp run`` and ``ftp sweep``. An evaluator is an
    ``ftp.api.Evaluator``: a callable ``evaluator(job) -> list[EvalResult]`` (``job`` is an
    ``ftp.api.EvalJob``) returning one result per metric (``task``, ``metric``, ``value``,
    ``stderr``, ``n``) and handing per-document outcomes to ``job.add_samples(task,
    samples)``: ``scores`` per sample is what paired gates compare, ``meta.generated``
    marks model text to scrub and categorise. Results are cached by weights and config;
    declare ``version`` or ``fingerprint(job)`` so a change is never served stale.
    """


@hookspec
def register_error_categorizers(register: Register) -> None:
    """Register error categorizers (``misspelling``, ``repetitive``, ``refusal``...).

    Called by ``ftp errors`` and after every evaluation. A categorizer is an
    ``ftp.api.ErrorCategorizer``: a callable ``categorizer(sample) -> bool | str | None``: truthy when the sample falls into the
    category (a string gives the reason shown to the user).
    """


@hookspec
def register_model_providers(register: Register) -> None:
    """Register model providers that resolve a model reference to local files.

    Called whenever a model is named (``--model``, ``ftp.toml``). A provider is an
    ``ftp.api.ModelProvider``: it has ``resolve(reference) -> pathlib.Path | None`` (``None`` when it does not know the
    reference) and ``list() -> list[dict]`` of the models it has locally. Providers never
    download from a hub.
    """


@hookspec
def register_pii_detectors(register: Register) -> None:
    """Register extra PII recognizers for the scrubber.

    Called when a scrubber is built. Each object is a Presidio ``EntityRecognizer``
    (``ftp.api.PIIDetector``; for example a ``PatternRecognizer`` for employee ids); its entities are scrubbed like the
    built-in ones.
    """


@hookspec
def register_settings(register: RegisterSettings) -> None:
    """Declare ``ftp.toml`` sections: ``register("acme", [Setting("competitor", str, "",
    "a rival model")], check=None, help="...")``.

    Called when a config is read or written (``ftp init``, ``ftp doctor``, every command
    that opens a project). Each ``ftp.api.Setting`` gives a key's type, default and one line
    of help; the template ``ftp init`` writes, validation (unknown key, wrong type, out of
    range, not one of the choices) and ``ftp doctor`` are built from the declarations.
    ``check(values, path)`` raises ``ftp.errors.ConfigError`` for rules across keys. A
    section declared twice is an error naming both plugins.
    """


@hookspec
def register_migrations(register: RegisterMigrations) -> None:
    """Register the migrations of a capability's own tables: ``register(migrations)``, a
    ``sqlite_utils.Migrations`` named after the plugin (``Migrations("ftp-acme")``).

    Called whenever a project's store is opened; each set is applied after the core's, in a
    transaction, once per migration (append-only: never edit one that has shipped, add the
    next). A plugin owns the tables its migrations create; ``project.store.db`` reads and
    writes them.
    """


@hookspec
def ftp_run_started(project: Project, run: RunRecord) -> None:
    """Called when a run (import, train, eval, sweep...) has been recorded as running, and
    again when a failed run is resumed (``run.status`` is ``running``, ``run.pid`` the
    process now running it)."""


@hookspec
def ftp_run_finished(project: Project, run: RunRecord) -> None:
    """Called when a run ends; ``run.status`` is ``finished`` or ``failed`` (``run.error``
    says why). An exception raised here is reported and does not change the outcome."""


@hookspec
def ftp_gate_decided(project: Project, run: RunRecord, decision: dict[str, Any]) -> None:
    """Called after ``ftp eval`` decides a release gate; ``decision["passed"]`` is a bool."""
