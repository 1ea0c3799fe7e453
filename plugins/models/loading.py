"""Loading a model and its tokenizer: from a model reference or from a train run.

A train run stores its base model reference in ``run.model`` and its final model in
``run.summary["final_model"]`` (``<artifacts>/final``): a PEFT adapter folder (with
``adapter_config.json``) applied on the base, or a full model folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftp.errors import NotFound, UserError

if TYPE_CHECKING:
    from ftp.project import Project
    from ftp.store import RunRecord


def default_dtype(device: Any = None) -> Any:
    import torch

    wants_cuda = (device is None and torch.cuda.is_available()) or str(device).startswith("cuda")
    if wants_cuda and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load(ref: str, project: Project | None, *, dtype: Any = None, device: Any = None,
         for_training: bool = False, distributed: Any = None) -> tuple[Any, Any]:
    run = find_train_run(project, ref)
    if run is not None:
        return load_run(run, dtype=dtype, device=device, for_training=for_training,
                        distributed=distributed)
    from ftp.plugins.models import resolve_model

    folder = resolve_model(ref)
    model = load_folder(folder, dtype=dtype, device=device, for_training=for_training,
                        distributed=distributed)
    return model, load_tokenizer(folder)


def find_train_run(project: Project | None, ref: str) -> RunRecord | None:
    """The train run ``ref`` names in ``project`` (id, name or ``latest``), if any."""
    if project is None or "/" in ref or ref.endswith(".gguf"):
        return None
    try:
        run = project.store.get_run(ref)
    except NotFound:
        return None
    if run.kind not in ("train", "sweep-point"):
        if ref.isdigit():
            raise UserError(f"run {ref} is a {run.kind} run, not a train run")
        return None
    return run


def final_model_path(run: RunRecord) -> Path:
    path = Path(run.summary.get("final_model") or Path(run.artifacts_path or "") / "final")
    if not path.is_dir():
        raise NotFound(f"train run {run.id} has no final model at {path} (status {run.status})",
                       hint=f"resume it with `ftp train --resume {run.id}`")
    return path


def load_run(run: RunRecord, *, dtype: Any = None, device: Any = None,
             for_training: bool = False, distributed: Any = None) -> tuple[Any, Any]:
    """The base model with the run's adapter applied, or the run's full weights."""
    final = final_model_path(run)
    tokenizer = load_tokenizer(final if (final / "tokenizer_config.json").is_file() else None,
                               fallback=run.model)
    if not (final / "adapter_config.json").is_file():
        return load_folder(final, dtype=dtype, device=device, for_training=for_training,
                           distributed=distributed), tokenizer
    from peft import PeftModel

    from ftp.plugins.models import resolve_model

    base = load_folder(resolve_model(run.model), dtype=dtype, device=device,
                       for_training=for_training, distributed=distributed)
    model = PeftModel.from_pretrained(base, str(final), is_trainable=for_training)
    return model, tokenizer


def load_folder(folder: Path, *, dtype: Any = None, device: Any = None,
                for_training: bool = False, distributed: Any = None) -> Any:
    from transformers import AutoModelForCausalLM

    extra = {"distributed_config": distributed} if distributed is not None else {}
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype or
                                                     default_dtype(device), **extra)
    except (OSError, ValueError) as error:
        raise UserError(f"{folder}: cannot load the model ({error})") from None
    if device is not None:
        model.to(device)
    model.config.use_cache = not for_training
    model.train(for_training)
    return model


def load_tokenizer(folder: Path | None, fallback: str | None = None) -> Any:
    from transformers import AutoTokenizer

    if folder is None:
        from ftp.plugins.models import resolve_model

        folder = resolve_model(fallback or "")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
