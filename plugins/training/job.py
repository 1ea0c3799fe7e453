"""What a trainer gets: the settings, the data, where to write, and the run to report to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftp.errors import UserError
from ftp.plugins.training import sections

if TYPE_CHECKING:
    from ftp.project import Project
    from ftp.store import RunRecord

METHODS = ("lora", "freeze", "full", "qlora", "dpo")
SETTING_TYPES: dict[str, type] = sections.TYPES  # declared once, in sections.TRAIN
DEFAULTS: dict[str, Any] = sections.DEFAULTS
DISTRIBUTED = ("ddp", "fsdp")
FSDP_METHODS = ("lora", "freeze", "full")


@dataclass
class TrainJob:
    """Everything one training run needs. ``run`` is None on ranks > 0 and in dry runs."""

    model_ref: str
    settings: dict[str, Any]
    output_dir: Path
    train_data: list[dict[str, Any]]
    eval_data: list[dict[str, Any]] = field(default_factory=list)
    project: Project | None = None
    run: RunRecord | None = None
    resume_from: Path | None = None
    dry_run_steps: int = 0

    @property
    def final_dir(self) -> Path:
        """Where the final model goes (``<artifacts>/final``; checkpoints are beside it)."""
        return self.output_dir.parent / "final"

    @property
    def method(self) -> str:
        return self.settings["method"]

    def log(self, step: int, values: dict[str, float], split: str = "train") -> None:
        """Per-step metrics to the store (rank 0 only: other ranks have no run)."""
        if self.project is not None and self.run is not None:
            self.project.store.log_metrics(self.run.id, step, values, split=split)


def settings(config_train: dict[str, Any] | None = None,
             overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``[train]`` from ftp.toml, then command-line flags; checked."""
    merged = dict(DEFAULTS)
    for source in (config_train or {}, overrides or {}):
        merged.update({k: v for k, v in source.items() if v is not None and k in DEFAULTS})
    for key, kind in SETTING_TYPES.items():
        value = merged[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            merged[key] = float(value)
        elif not isinstance(merged[key], kind):
            raise UserError(f"train setting {key} must be a {kind.__name__}, got {value!r}")
    check(merged)
    return merged


def check(values: dict[str, Any]) -> None:
    if values["distributed"] not in DISTRIBUTED:
        raise UserError(f"train setting distributed must be one of {', '.join(DISTRIBUTED)}, "
                        f"got {values['distributed']!r}")
    if values["method"] not in METHODS:
        return  # a plugin's method: the registry says whether it exists
    if values["distributed"] == "fsdp" and values["method"] not in FSDP_METHODS:
        raise UserError(f"FSDP is wired for the {', '.join(FSDP_METHODS)} methods, not "
                        f"{values['method']!r}", hint='use train.distributed = "ddp" for it')
    positive = ("learning_rate", "batch_size", "gradient_accumulation", "pack_tokens",
                "save_steps", "eval_steps", "lora_r")
    for key in positive:
        if not values[key] > 0:  # also refuses nan
            raise UserError(f"train setting {key} must be positive, got {values[key]!r}")
    if values["max_steps"] <= 0 and values["epochs"] <= 0:
        raise UserError("set epochs > 0 or max_steps > 0; both leave nothing to train")
    if values["early_stopping_patience"] and values["save_steps"] % values["eval_steps"]:
        raise UserError(
            f"early stopping needs save_steps ({values['save_steps']}) to be a multiple of "
            f"eval_steps ({values['eval_steps']})")
