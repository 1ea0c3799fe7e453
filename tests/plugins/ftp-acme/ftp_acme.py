"""ftp-acme: the plugin that docs/plugins.md builds, one capability per hook.

Acme Corp's support team fine-tunes a small model on its ticket export. This plugin reads
that export (``*.acme``), knows its record shape, formats it, generates FAQ tickets, finds
Acme customer ids as PII, flags answers that recommend the competitor, scores politeness as
an evaluator usable in ``--suite`` and gates, trains LoRA with its own default rank, finds
the team's models, keeps an event log of runs and gates in a table of its own (with its own
migrations), adds ``ftp acme events`` and owns an ``[acme]`` section of ftp.toml. It imports only click and ftp at module level, because
ftp loads every plugin when it builds its command line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

import ftp
from ftp.api import (
    EvalJob,
    EvalResult,
    Project,
    Record,
    Register,
    RegisterMigrations,
    RegisterSettings,
    RunRecord,
    Sample,
    Setting,
    Tokenizer,
    TrainJob,
)
from ftp.errors import ConfigError, InputError, UserError

SEPARATOR = " ::: "
POLITE = ("please", "thank", "sorry", "happy to help")
EVENTS = "acme_events"  # this plugin's own table in the project's store


# [acme] in ftp.toml --------------------------------------------------------------------


def check_acme(values: dict[str, Any], path: str) -> None:
    """Rules across keys: ConfigError names the file and the key."""
    if values["polite_floor"] > 0 and not values["competitor"]:
        raise ConfigError(f"{path}: acme.polite_floor needs acme.competitor to be set")


@ftp.hookimpl
def register_settings(register: RegisterSettings) -> None:
    register("acme", [
        Setting("competitor", str, "Globex", "the rival whose name an answer must not push"),
        Setting("lora_r", int, 4, "the LoRA rank of the acme-lora method", minimum=1,
                maximum=256),
        Setting("polite_floor", float, 0.0, "informational: the politeness we aim for",
                minimum=0, maximum=1),
    ], check=check_acme, help="Settings of the ftp-acme plugin.")


def settings_of(project: Project | None) -> dict[str, Any]:
    """``[acme]`` with its defaults (no project: the declared defaults)."""
    if project is None:
        return {"competitor": "Globex", "lora_r": 4, "polite_floor": 0.0}
    return dict(project.config["acme"])


# data: a reader for *.acme, a record format, a formatter, a generator ----------------------


def read_acme(path: Path, **options: Any) -> Iterator[tuple[int | str, Record]]:
    """``ticket ::: reply`` per line, streamed; a bad line is named, never quoted."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            if SEPARATOR not in line:
                raise InputError(f"no '{SEPARATOR.strip()}' between ticket and reply",
                                 path=str(path), line=number)
            ticket, reply = line.rstrip("\n").split(SEPARATOR, 1)
            yield number, {"ticket": ticket.strip(), "reply": reply.strip()}


@ftp.hookimpl
def register_data_sources(register: Register) -> None:
    register("acme", read_acme, description="Acme's ticket export: ticket ::: reply",
             suffixes=[".acme"])


class Ticket:
    """The record format of Acme's tickets: ``ticket`` and ``reply``."""

    name = "acme_ticket"
    required = ("ticket", "reply")

    def detect(self, record: Record) -> bool:
        return "ticket" in record and "reply" in record

    def validate(self, record: Record) -> Record:
        for field in self.required:
            value = record.get(field)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"field {field!r} must be non-empty text")  # never the value
        return {"format": self.name, "ticket": record["ticket"], "reply": record["reply"]}

    def prompt(self, record: Record) -> str:
        return str(record["ticket"])

    def response(self, record: Record) -> str:
        return str(record["reply"])


@ftp.hookimpl
def register_record_formats(register: Register) -> None:
    register(Ticket.name, Ticket(), description="a support ticket and the agent's reply")


def acme_plain(record: Record, tokenizer: Tokenizer) -> tuple[str, str]:
    """A plain prompt without the tokenizer's chat template."""
    from ftp.registry import get

    shape = get("record_formats", record.get("format") or "alpaca")
    return f"Ticket: {shape.prompt(record)}\nReply:", f" {shape.response(record)}"


@ftp.hookimpl
def register_formatters(register: Register) -> None:
    register("acme_plain", acme_plain, description="Ticket: ...\\nReply: ...")


FAQ = (("How do I reset my password?", "Please use the reset link on the sign-in page."),
       ("Where is my invoice?", "Thank you for asking: invoices are under Billing."),
       ("Can I change my plan?", "Happy to help: plans change under Settings > Plan."))


def faq_tickets(project: Project, *, n: int, **options: Any) -> Iterator[Record]:
    """``n`` tickets from Acme's FAQ, numbered so that none is a duplicate."""
    for index in range(n):
        ticket, reply = FAQ[index % len(FAQ)]
        yield {"ticket": f"{ticket} (case {index + 1})", "reply": reply}


@ftp.hookimpl
def register_generators(register: Register) -> None:
    register("acme_faq", faq_tickets, description="tickets from Acme's FAQ")


# training: LoRA with Acme's default rank ---------------------------------------------------


class AcmeLora:
    """LoRA at ``[acme] lora_r``; everything else as ``[train]`` says."""

    def check(self, settings: dict[str, Any]) -> None:
        if settings["distributed"] == "fsdp":
            raise UserError("acme-lora trains in one process", hint='use distributed = "ddp"')

    def __call__(self, job: TrainJob) -> dict[str, Any]:
        from ftp.registry import get

        job.settings["lora_r"] = settings_of(job.project)["lora_r"]  # stored as what ran
        job.settings["lora_alpha"] = 2 * job.settings["lora_r"]
        summary: dict[str, Any] = get("trainers", "lora")(job)
        return summary


@ftp.hookimpl
def register_trainers(register: Register) -> None:
    register("acme-lora", AcmeLora(), description="LoRA with Acme's default rank")


# evaluation: politeness, and a categorizer ---------------------------------------------------


def politeness(text: str) -> float:
    lowered = text.lower()
    return 1.0 if any(word in lowered for word in POLITE) else 0.0


class Politeness:
    """Share of test-split answers that are polite: ``acme_polite/polite``."""

    version = "1"  # bump when the scoring changes: cached results are then not reused
    task = "acme_polite"
    produces = {"acme_polite": ("polite",)}  # what gates may name (checked up front)

    def __call__(self, job: EvalJob) -> list[EvalResult]:
        from ftp.plugins.data.api import load_records
        from ftp.plugins.generation.batch import generate
        from ftp.registry import get

        if job.project is None:
            raise UserError("acme_polite evaluates a project's test split; open a project")
        records = load_records(job.project, split="test")[: job.settings.limit or None]
        model, tokenizer = job.model_and_tokenizer()
        prompts = [get("record_formats", r.get("format") or "alpaca").prompt(r)
                   for r in records]
        outputs = generate(model, tokenizer, prompts, job.settings.max_new_tokens,
                           job.settings.batch_size)
        samples: list[Sample] = [
            {"doc_id": str(record.get("key_hash") or index), "prompt": prompt,
             "output": text, "reference": "", "scores": {"polite": politeness(text)},
             "meta": {"generated": True}}
            for index, (record, prompt, (text, _)) in enumerate(
                zip(records, prompts, outputs, strict=True))]
        job.add_samples(self.task, samples)
        scores = [s["scores"]["polite"] for s in samples]
        mean = sum(scores) / len(scores) if scores else 0.0
        return [{"task": self.task, "metric": "polite", "value": mean, "stderr": None,
                 "n": len(scores)}]


@ftp.hookimpl
def register_evaluators(register: Register) -> None:
    register("acme_polite", Politeness(), description="share of polite answers on the test split")


def recommends_competitor(sample: Mapping[str, Any]) -> str | None:
    output = str(sample.get("output") or "")
    if "globex" in output.lower():
        return "the answer names the competitor"
    return None


@ftp.hookimpl
def register_error_categorizers(register: Register) -> None:
    register("competitor", recommends_competitor, description="answers that name the rival")


# models and privacy ------------------------------------------------------------------------


class TeamModels:
    """``acme/NAME`` is the folder NAME under ``$ACME_MODELS`` (the team's share)."""

    def root(self) -> Path | None:
        folder = os.environ.get("ACME_MODELS")
        return Path(folder) if folder else None

    def resolve(self, reference: str) -> Path | None:
        root = self.root()
        if root is None or not reference.startswith("acme/"):
            return None
        folder = root / reference.removeprefix("acme/")
        return folder if (folder / "config.json").is_file() else None

    def list(self) -> list[dict[str, Any]]:
        root = self.root()
        if root is None or not root.is_dir():
            return []
        return [{"name": f"acme/{p.name}", "path": str(p)} for p in sorted(root.iterdir())
                if (p / "config.json").is_file()]


@ftp.hookimpl
def register_model_providers(register: Register) -> None:
    register("acme", TeamModels(), description="models on Acme's team share ($ACME_MODELS)")


@ftp.hookimpl
def register_pii_detectors(register: Register) -> None:
    from presidio_analyzer import Pattern, PatternRecognizer  # heavy: only when scrubbing

    register("acme_customer_id", PatternRecognizer(
        supported_entity="ACME_CUSTOMER_ID",
        patterns=[Pattern("acme customer id", r"\bACME-\d{6}\b", 0.9)]))


# observing runs and gates; a command ---------------------------------------------------------


def m001_events(db: Any) -> None:
    """Runs and gate decisions this plugin observed."""
    db[EVENTS].create({"id": int, "event": str, "run": int, "kind": str, "status": str,
                       "pid": int, "gate": str, "passed": int}, pk="id")


def acme_migrations() -> Any:
    """The migrations of this plugin's tables: a set of its own, applied after ftp's."""
    from sqlite_utils import Migrations  # ftp's store library, imported when a store opens

    owned = Migrations("ftp-acme")
    owned(name="m001_events")(m001_events)
    return owned


@ftp.hookimpl
def register_migrations(register: RegisterMigrations) -> None:
    register(acme_migrations())


def record_event(project: Project, event: dict[str, Any]) -> None:
    project.store.db[EVENTS].insert(event)


@ftp.hookimpl
def ftp_run_started(project: Project, run: RunRecord) -> None:
    record_event(project, {"event": "started", "run": run.id, "kind": run.kind,
                           "pid": run.pid})


@ftp.hookimpl
def ftp_run_finished(project: Project, run: RunRecord) -> None:
    record_event(project, {"event": "finished", "run": run.id, "kind": run.kind,
                           "status": run.status})


@ftp.hookimpl
def ftp_gate_decided(project: Project, run: RunRecord, decision: dict[str, Any]) -> None:
    record_event(project, {"event": "gate", "run": run.id, "gate": decision["gate"],
                           "passed": int(decision["passed"])})


def read_events(project: Project) -> list[dict[str, Any]]:
    rows = project.store.db[EVENTS].rows_where(order_by="id")
    return [{k: v for k, v in row.items() if v is not None and k != "id"} for row in rows]


@ftp.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group(name="acme")
    def acme() -> None:
        """Acme's additions: the event log of runs and gates."""

    @acme.command(name="events")
    @click.option("--kind", help="Only runs of this kind.")
    def events(kind: str | None) -> None:
        """Print the runs and gate decisions this plugin observed, one per line."""
        for event in read_events(ftp.open_project()):
            if kind is None or event.get("kind") == kind:
                click.echo(" ".join(f"{k}={event[k]}" for k in sorted(event)))


__all__: Sequence[str] = ("AcmeLora", "Politeness", "Ticket", "TeamModels", "read_acme")
