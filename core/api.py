"""The public, typed contract between ftp and its plugins (built-in and third-party alike).

Everything a plugin registers through a ``register_*`` hook, and everything ftp hands to it,
is described here as a ``Protocol`` (structural: a plain function or class that has the
right shape conforms, nothing needs to inherit) or a small dataclass. A plugin type-checked
with ``mypy --strict`` against this module is correct. ``docs/plugins.md`` shows each one
with an example; ``core/hookspecs.py`` says when each hook is called.

This module imports only the standard library, so importing it is free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

__all__ = [
    "CheckedTrainer", "DataSource", "DeclaringEvaluator", "ErrorCategorizer", "EvalJob",
    "EvalResult", "EvalSettings", "Evaluator", "FingerprintedEvaluator", "Formatter",
    "Generator", "Located", "ModelProvider", "PIIDetector", "PreparingFormatter", "Project",
    "Record", "RecordFormat", "Register", "RegisterMigrations", "RegisterSettings",
    "RunRecord", "RunStatus", "Sample", "SampleMeta", "Section", "SectionCheck", "Setting",
    "SettingType", "Store", "Tokenizer", "TrainJob", "Trainer", "VersionedEvaluator",
]

Record = dict[str, Any]
"""A record: a JSON object as read from a file, or normalised by a :class:`RecordFormat`."""

Located = tuple[int | str, Record]
"""``(location, record)``: the 1-based line or row (or a file name) used in error messages."""

RunStatus = Literal["running", "finished", "failed"]


class Register(Protocol):
    """The callback handed to every ``register_*`` hook.

    ``suffixes`` is read for data sources only: the file suffixes (``".acme"``) the reader
    handles, so ``ftp data import x.acme`` picks it.
    """

    def __call__(self, name: str, obj: Any, *, description: str = "",
                 suffixes: Sequence[str] = ()) -> None: ...


# data ---------------------------------------------------------------------------------


class DataSource(Protocol):
    """A reader of raw records: ``reader(path, **options)`` yields ``(location, record)``.

    It streams (constant memory for a multi-GB file) and raises ``ftp.errors.InputError``
    naming the file and line, never quoting the record, for unreadable input. Options are
    the import's flags (``table``, ``query``, ``delimiter``, ``max_line_bytes``...);
    ignore the ones you do not use (accept ``**options``).
    """

    def __call__(self, path: Path, **options: Any) -> Iterator[Located]: ...


@runtime_checkable
class RecordFormat(Protocol):
    """A record format (alpaca, chat...): recognises, normalises and splits a record.

    ``detect`` answers whether a raw record (after ``--map``) has this format's shape;
    ``validate`` returns the normalised record (it must carry ``"format": name``) or raises
    ``ValueError`` with the reason (never the record's text: the caller adds file and
    line). ``prompt``/``response`` read a normalised record: the text a model is given and
    the text it should answer (used for splits, dedupe, reports and references).
    """

    name: str

    def detect(self, record: Record) -> bool: ...

    def validate(self, record: Record) -> Record: ...

    def prompt(self, record: Record) -> str: ...

    def response(self, record: Record) -> str: ...


class Tokenizer(Protocol):
    """What ftp uses of a Hugging Face tokenizer (``transformers.PreTrainedTokenizerBase``)."""

    eos_token: str | None
    pad_token: str | None
    eos_token_id: int | None
    pad_token_id: int | None
    chat_template: str | None

    def __call__(self, text: Any, **kwargs: Any) -> Any: ...  # a BatchEncoding

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...

    def encode(self, text: str, **kwargs: Any) -> list[int]: ...

    def decode(self, token_ids: Any, **kwargs: Any) -> str: ...


class Formatter(Protocol):
    """``formatter(record, tokenizer) -> (prompt_text, response_text)``.

    Only the response carries loss by default (``format.train_on_responses_only``).
    """

    def __call__(self, record: Record, tokenizer: Tokenizer) -> tuple[str, str]: ...


class PreparingFormatter(Formatter, Protocol):
    """A formatter that reads the tokenizer once: ``prepare(tokenizer)`` returns a callable
    giving ``(prompt, response, prompt, response, ...)`` for a record, so every assistant
    turn of a conversation is trained."""

    def prepare(self, tokenizer: Tokenizer) -> Callable[[Record], tuple[str, ...]]: ...


class Generator(Protocol):
    """``generator(project, n=..., **options)`` yields ``n`` records (synthetic data), shaped
    like a file's records: ``ftp data generate`` validates, scrubs and imports them like any
    file, tagged ``generated`` and ``generator:NAME``. Options are the command's flags
    (``spec``, ``model``, ``seed``...); accept ``**options``. A returned iterable with a
    ``model`` attribute names the model used (tagged ``model:NAME``)."""

    def __call__(self, project: Project, *, n: int, **options: Any) -> Iterator[Record]: ...


# projects, runs, the store ---------------------------------------------------------------


class RunRecord(Protocol):
    """A row of the ``runs`` table (``ftp.store.RunRecord``), field by field."""

    id: int
    kind: str  # "import", "train", "eval", "sweep", "run", ...
    status: str  # a RunStatus
    name: str | None
    config: dict[str, Any]  # what the run was asked to do (a train run: its settings)
    parent_id: int | None  # e.g. the train run an eval run evaluated
    model: str | None
    dataset_id: int | None
    artifacts_path: str | None  # the run's folder (checkpoints, final model, reports)
    started_at: str | None  # ISO 8601, UTC
    finished_at: str | None
    duration_s: float | None
    pid: int | None  # the live process while running (resumes record the new one)
    pid_started: str | None
    host: str | None
    versions: dict[str, str]  # versions of ftp, torch, transformers... that ran it
    error: str | None  # one line, when failed
    summary: dict[str, Any]  # the run's headline numbers; a plugin may add to it


class Store(Protocol):
    """The part of the project database (``ftp.store.Store``) plugins may use."""

    path: Path
    db: Any  # the sqlite_utils.Database: a plugin reads and writes its own tables here

    def get_run(self, ref: int | str) -> RunRecord: ...

    def list_runs(self, kind: str | None = None, status: str | None = None,
                  limit: int | None = None) -> Sequence[RunRecord]: ...

    def log_metrics(self, run_id: int, step: int, values: dict[str, float],
                    split: str = "train") -> None: ...

    def metrics(self, run_id: int, name: str | None = None) -> list[dict[str, Any]]: ...

    def eval_results(self, run_id: int) -> list[dict[str, Any]]: ...

    def samples(self, run_id: int, task: str | None = None) -> list[dict[str, Any]]: ...


class Project(Protocol):
    """An ftp project (``ftp.Project``): a folder with ``ftp.toml`` and ``.ftp/``."""

    root: Path  # the project folder, absolute
    config_path: Path  # its ftp.toml

    @property
    def config(self) -> dict[str, dict[str, Any]]:
        """``ftp.toml`` merged over every declared section's defaults and validated,
        including plugins' own sections (``config["acme"]["competitor"]``)."""

    @property
    def state_dir(self) -> Path: ...  # .ftp/

    @property
    def runs_dir(self) -> Path: ...  # .ftp/runs/

    @property
    def store(self) -> Store: ...


# training -----------------------------------------------------------------------------


class TrainJob(Protocol):
    """What a trainer receives (``ftp.plugins.training.job.TrainJob``), field by field.

    ``settings`` is ``[train]`` merged with the flags (every key of the ``[train]`` section,
    plus ``model``, ``dataset`` and ``fraction``). A trainer may change ``settings`` before
    it trains (e.g. a default of its own); what is in it when the trainer returns is what
    the run stores as its config, so the stored settings say what it actually ran.
    """

    model_ref: str  # the base model: a folder, a known name
    settings: dict[str, Any]
    output_dir: Path  # checkpoints go here; the final model in ``final_dir``
    train_data: list[dict[str, Any]]  # encoded examples (input_ids, labels), or DPO pairs
    eval_data: list[dict[str, Any]]
    project: Project | None  # None on ranks > 0 and in dry runs
    run: RunRecord | None  # None on ranks > 0 and in dry runs
    resume_from: Path | None  # a complete checkpoint to continue from
    dry_run_steps: int  # > 0: train this many steps and stop (nothing stored)

    @property
    def final_dir(self) -> Path: ...

    @property
    def method(self) -> str: ...

    def log(self, step: int, values: dict[str, float], split: str = "train") -> None:
        """Per-step metrics to the store (a no-op on ranks > 0)."""


class Trainer(Protocol):
    """``trainer(job) -> summary``: trains on ``job.train_data``, writes checkpoints under
    ``job.output_dir`` and the final model to ``job.final_dir``, logs per-step metrics with
    ``job.log`` and returns summary numbers (``steps``, ``final_loss``, ``train_seconds``,
    ``tokens_per_s``, ``peak_memory_mb``...). To delegate, call another registered trainer:
    ``ftp.registry.get("trainers", "lora")(job)``."""

    def __call__(self, job: TrainJob) -> dict[str, Any]: ...


class CheckedTrainer(Trainer, Protocol):
    """A trainer with a pre-flight check: ``check(settings)`` raises ``ftp.errors.UserError``
    before anything is recorded (e.g. qlora needs CUDA)."""

    def check(self, settings: dict[str, Any]) -> None: ...


# evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalSettings:
    """The settings an evaluation is pinned to (``[eval]`` merged with the flags). Every
    one but ``device`` enters the result cache key."""

    limit: int | None = None  # documents per task (None: all)
    shots: int | None = None  # None: the task's own default (lm-eval's)
    batch_size: int = 8
    seed: int = 1234
    max_new_tokens: int = 256
    device: str | None = None
    samples: int = 1  # answers per testset prompt (K > 1: K - 1 sampled alternatives)
    temperature: float = 0.7  # for the sampled alternatives
    judge_model: str | None = None  # a local model that rates testset answers
    judge_rubric: str | None = None

    def pinned(self) -> dict[str, Any]:
        """The settings that change numbers (device is recorded, not compared)."""
        values = asdict(self)
        values.pop("device")
        return values

    @classmethod
    def from_config(cls, values: Mapping[str, Any], **overrides: Any) -> EvalSettings:
        """The one constructor from an ``[eval]`` table (as ``project.config["eval"]``
        holds it: validated) and flags; a flag that is None keeps the table's value."""
        merged = {**values, **{k: v for k, v in overrides.items() if v is not None}}
        limit, shots = merged.get("limit", 0), merged.get("shots", -1)
        return cls(limit=limit or None, shots=None if shots is None or shots < 0 else shots,
                   batch_size=int(merged.get("batch_size", 8)),
                   seed=int(merged.get("seed", 1234)),
                   max_new_tokens=int(merged.get("max_new_tokens", 256)),
                   device=merged.get("device"), samples=int(merged.get("samples", 1)),
                   temperature=float(merged.get("temperature", 0.7)),
                   judge_model=merged.get("judge_model") or None,
                   judge_rubric=merged.get("judge_rubric") or None)


class SampleMeta(TypedDict, total=False):
    """``sample["meta"]``: ``generated`` marks model-written text, which the runner scrubs
    and error-categorises before it is stored; anything else is kept as it is."""

    generated: bool
    alternatives: list[str]


class Sample(TypedDict, total=False):
    """One document's outcome, stored in the ``samples`` table.

    ``scores`` holds the per-document value of each metric the evaluator reports
    (``{"exact_match": 1.0}``): a paired gate (``ftp eval --gates``) pairs a candidate's and
    a baseline's samples by ``doc_id`` and compares these values.
    """

    doc_id: str
    prompt: str
    output: str
    reference: str
    scores: dict[str, float]
    categories: list[str]
    meta: SampleMeta


class EvalResult(TypedDict, total=False):
    """One metric of one task: what an evaluator returns, one per (task, metric)."""

    task: str
    metric: str
    value: float
    stderr: float | None
    n: int


class EvalJob(Protocol):
    """What an evaluator receives (``ftp.plugins.evaluation.job.EvalJob``)."""

    model_ref: str  # a model folder, a known name, or a train run's id/name
    settings: EvalSettings
    project: Project | None
    run: RunRecord | None  # the eval run being recorded

    def model_and_tokenizer(self) -> tuple[Any, Tokenizer]:
        """``(model, tokenizer)``, loaded once (a train run's adapter applied)."""

    def lm(self) -> Any:
        """The lm-eval model wrapper around the loaded model (for lm-eval tasks)."""

    def add_samples(self, task: str, samples: list[Sample]) -> None:
        """Per-document outcomes of ``task``; stored (scrubbed) with the results."""


class Evaluator(Protocol):
    """``evaluator(job) -> [EvalResult, ...]``, usable in ``ftp eval --suite NAME`` and in
    gates (``task``/``metric`` name what a gate reads).

    Results are cached by (model weights hash, config hash). The config hash covers the
    evaluator's name, the pinned settings, package versions, the source of the module that
    defines the evaluator, and, when it has one, its ``version`` or ``fingerprint(job)``
    (:class:`VersionedEvaluator`, :class:`FingerprintedEvaluator`): change what decides
    the numbers (data it reads, a prompt) and say so there, or the earlier result is reused.
    """

    def __call__(self, job: EvalJob) -> list[EvalResult]: ...


class VersionedEvaluator(Evaluator, Protocol):
    """An evaluator with a declared ``version``: bump it and cached results are not reused."""

    version: str


class DeclaringEvaluator(Evaluator, Protocol):
    """An evaluator that says which tasks and metrics it produces, so a gate naming a task
    or metric it does not produce is refused before anything is evaluated."""

    produces: dict[str, tuple[str, ...]]


class FingerprintedEvaluator(Evaluator, Protocol):
    """An evaluator whose cache key depends on its inputs: ``fingerprint(job)`` returns a
    string (e.g. a hash of the data it will read) computed without loading the model."""

    def fingerprint(self, job: EvalJob) -> str: ...


class ErrorCategorizer(Protocol):
    """``categorizer(sample) -> bool | str | None``: truthy when a generated sample falls in
    the category; a string is the reason shown to the user (``ftp errors``)."""

    def __call__(self, sample: Mapping[str, Any]) -> bool | str | None: ...


# models and privacy ---------------------------------------------------------------------


class ModelProvider(Protocol):
    """Resolves a model reference to local files; never downloads."""

    def resolve(self, reference: str) -> Path | None:
        """The local folder or file for ``reference``, or None when unknown to it."""

    def list(self) -> list[dict[str, Any]]:
        """The models it has locally: dicts with at least ``name`` and ``path``."""


class PIIDetector(Protocol):
    """A Presidio ``EntityRecognizer`` (e.g. a ``PatternRecognizer``); its entities are
    scrubbed like the built-in ones."""

    supported_entities: list[str]

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
        ...


# settings -------------------------------------------------------------------------------

SettingType = type[str] | type[int] | type[float] | type[bool] | type[list[Any]] | type[dict[str, Any]]


@dataclass(frozen=True)
class Setting:
    """One key of an ``ftp.toml`` section: its type, default and a line of help.

    ``type`` is ``str``, ``int``, ``float`` (an int is accepted), ``bool``, ``list`` (a
    string is accepted for a one-item list) or ``dict``. ``choices`` limits the values,
    ``minimum``/``maximum`` bound numbers (inclusive). ``comment`` holds extra lines written
    above the key in the template ``ftp init`` writes (``help`` is the first).
    """

    key: str
    type: SettingType
    default: Any
    help: str = ""
    choices: Sequence[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    comment: str = ""
    nullable: bool = False  # a default of "" or None that means "not set"


SectionCheck = Callable[[dict[str, Any], str], None]
"""``check(values, path)``: cross-key rules of a section; raises ``ftp.errors.ConfigError``."""


@dataclass(frozen=True)
class Section:
    """An ``ftp.toml`` section declared by a plugin (``register_settings``)."""

    name: str
    settings: tuple[Setting, ...]
    check: SectionCheck | None = None
    help: str = ""
    plugin: str = ""  # filled in by ftp: the plugin that declared it


class RegisterMigrations(Protocol):
    """The callback handed to ``register_migrations``: ``register(migrations)`` with a
    ``sqlite_utils.Migrations`` set named after the plugin."""

    def __call__(self, migrations: Any) -> None: ...


class RegisterSettings(Protocol):
    """The callback handed to ``register_settings``: declares one section."""

    def __call__(self, section: str, settings: Sequence[Setting], *,
                 check: SectionCheck | None = None, help: str = "") -> None: ...
