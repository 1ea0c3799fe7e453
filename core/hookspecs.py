"""Every hook ftp calls. Built-in plugins implement these exactly as third-party ones do.

The registration hooks follow llm's shape: ftp calls ``register_X(register)`` once per
process when it first needs that kind of capability, and each plugin calls
``register(name, obj, description=...)`` for every capability it provides. A name
registered twice is an error naming both plugins. The lifecycle hooks let plugins observe
runs; their return values are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

    from ftp.project import Project
    from ftp.store import RunRecord

hookspec = pluggy.HookspecMarker("ftp")
hookimpl = pluggy.HookimplMarker("ftp")


class Register(Protocol):
    """The callback handed to every ``register_*`` hook."""

    def __call__(self, name: str, obj: Any, *, description: str = "") -> None: ...


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``ftp`` command line.

    Called once when the CLI is built, before arguments are parsed, so a command module must
    import only click at module level and defer heavy imports into the command body.
    """


@hookspec
def register_data_sources(register: Register) -> None:
    """Register readers of raw records: ``register("jsonl", reader)``.

    Called when data is imported. A reader is a callable ``reader(path, **options)`` that
    yields ``(location, record)`` pairs, where ``location`` is the 1-based line (or row)
    number used in error messages and ``record`` a ``dict``. It raises
    ``ftp.errors.InputError`` naming the file and line for unreadable input. Readers must
    stream: a multi-GB file is read in constant memory.
    """


@hookspec
def register_record_formats(register: Register) -> None:
    """Register record formats (alpaca, prompt/completion, chat messages, preference, text).

    Called when data is imported or formatted. Each object has ``detect(record) -> bool`` and
    ``validate(record) -> dict`` returning the normalised record or raising ``ValueError``
    with the reason, which the caller turns into an ``InputError`` with file and line.
    """


@hookspec
def register_formatters(register: Register) -> None:
    """Register formatters that turn a normalised record into model input.

    Called when data is prepared for training or evaluation. A formatter is a callable
    ``formatter(record, tokenizer) -> (prompt_text, response_text)``; the response part is
    the only part that carries loss by default. Optionally ``formatter.prepare(tokenizer)``
    returns a callable bound to that tokenizer (read once) giving ``(prompt, response,
    prompt, response, ...)``, so every assistant turn of a conversation is trained.
    """


@hookspec
def register_generators(register: Register) -> None:
    """Register synthetic data generators (``self-instruct``, ``evolve``, ``template``).

    Called by ``ftp data generate``. A generator is a callable
    ``generator(project, n=..., **options)`` yielding normalised records, each tagged with
    the generator's name and the model used.
    """


@hookspec
def register_trainers(register: Register) -> None:
    """Register training methods (``lora``, ``freeze``, ``full``, ``qlora``, ``dpo``).

    Called by ``ftp train`` and ``ftp sweep``. A trainer is a callable
    ``trainer(job) -> dict`` that trains on ``job``'s data, writes checkpoints under the run's
    artifact folder and per-step metrics through the store, and returns summary metrics.
    """


@hookspec
def register_evaluators(register: Register) -> None:
    """Register evaluators (benchmarks through lm-eval, the user's test set, judges).

    Called by ``ftp eval``. An evaluator is a callable ``evaluator(job) -> list[dict]`` that
    returns one result per metric (``task``, ``metric``, ``value``, ``stderr``, ``n``) and
    stores per-sample outputs through the store.
    """


@hookspec
def register_error_categorizers(register: Register) -> None:
    """Register error categorizers (``misspelling``, ``repetitive``, ``refusal``...).

    Called by ``ftp errors`` and after every evaluation. A categorizer is a callable
    ``categorizer(sample) -> bool | str | None``: truthy when the sample falls into the
    category (a string gives the reason shown to the user).
    """


@hookspec
def register_model_providers(register: Register) -> None:
    """Register model providers that resolve a model reference to local files.

    Called whenever a model is named (``--model``, ``ftp.toml``). A provider has
    ``resolve(reference) -> pathlib.Path | None`` (``None`` when it does not know the
    reference) and ``list() -> list[dict]`` of the models it has locally. Providers never
    download from a hub.
    """


@hookspec
def register_pii_detectors(register: Register) -> None:
    """Register extra PII recognizers for the scrubber.

    Called when a scrubber is built. Each object is a Presidio ``EntityRecognizer`` (for
    example a ``PatternRecognizer`` for employee ids); its entities are scrubbed like the
    built-in ones.
    """


@hookspec
def ftp_run_started(project: Project, run: RunRecord) -> None:
    """Called when a run (import, train, eval, sweep...) has been recorded as running."""


@hookspec
def ftp_run_finished(project: Project, run: RunRecord) -> None:
    """Called when a run ends; ``run.status`` is ``finished`` or ``failed``."""


@hookspec
def ftp_gate_decided(project: Project, run: RunRecord, decision: dict[str, Any]) -> None:
    """Called after ``ftp eval`` decides a release gate; ``decision["passed"]`` is a bool."""
