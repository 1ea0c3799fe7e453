"""Loading a model and its tokenizer: from a model reference or from a train run.

A train run stores its base model reference in ``run.model`` and its final model in
``run.summary["final_model"]`` (``<artifacts>/final``): a PEFT adapter folder (with
``adapter_config.json``) applied on the base, or a full model folder.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftp.boundaries import model_loading
from ftp.errors import NotFound, UserError
from ftp.plugins.models import resolve_model

if TYPE_CHECKING:
    from ftp.project import Project
    from ftp.store import RunRecord


TRAIN_KINDS = ("train", "sweep-point")


def default_dtype(device: Any = None) -> Any:
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
    folder = resolve_model(ref)
    model = load_folder(folder, dtype=dtype, device=device, for_training=for_training,
                        distributed=distributed)
    return model, load_tokenizer(folder)


def find_train_run(project: Project | None, ref: str) -> RunRecord | None:
    """The train run ``ref`` names in ``project`` (id, name or ``latest``), if any."""
    if project is None or "/" in ref or ref.endswith(".gguf"):
        return None
    if ref == "latest":  # the latest train run, whatever ran after it (an import, an eval)
        runs = [run for kind in TRAIN_KINDS for run in project.store.list_runs(kind=kind,
                                                                              limit=1)]
        return max(runs, key=lambda run: run.id) if runs else None
    try:
        run = project.store.get_run(ref)
    except NotFound:
        return None
    if run.kind not in TRAIN_KINDS:
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
    base = load_folder(resolve_model(run.model), dtype=dtype, device=device,
                       for_training=for_training, distributed=distributed)
    with model_loading(final):
        model = PeftModel.from_pretrained(base, str(final), is_trainable=for_training)
    return model, tokenizer


def load_folder(folder: Path, *, dtype: Any = None, device: Any = None,
                for_training: bool = False, distributed: Any = None) -> Any:
    extra = {"distributed_config": distributed} if distributed is not None else {}
    check_folder(folder)
    with model_loading(folder):
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype or
                                                     default_dtype(device), **extra)
    if device is not None:
        model.to(device)
    model.config.use_cache = not for_training
    model.train(for_training)
    return model


def load_tokenizer(folder: Path | None, fallback: str | None = None) -> Any:
    if folder is None:
        from ftp.plugins.models import resolve_model

        folder = resolve_model(fallback or "")
    with model_loading(folder):
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def check_folder(folder: Path | str) -> None:
    """Cheap checks of a model folder before anything is recorded or loaded: its JSON files
    parse and every safetensors file is as long as its header says (a truncated download or
    copy). Reads headers only, never the weights; a bad file is a UserError naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        return  # a .gguf file or a name: the loader says what is wrong with it
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json",
                 "adapter_config.json", "generation_config.json"):
        path = folder / name
        if path.is_file():
            _check_json(path)
    for path in sorted(folder.glob("*.safetensors")):
        _check_safetensors(path)
    if (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file():
        _check_config_and_weights(folder)
    if (folder / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        with model_loading(folder):  # valid JSON that is not a tokenizer
            Tokenizer.from_file(str(folder / "tokenizer.json"))


WEIGHTS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf")


def _check_config_and_weights(folder: Path) -> None:
    from transformers import AutoConfig

    with model_loading(folder):  # an unknown model_type, a value of the wrong type
        AutoConfig.from_pretrained(str(folder))
    if not any(next(folder.glob(pattern), None) for pattern in WEIGHTS):
        raise UserError(f"{folder}: no weights (no *.safetensors or *.bin file)",
                        hint="copy the model's weight files into the folder, or export the "
                             "model again")


def _check_json(path: Path) -> None:
    with model_loading(path.parent):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as error:
            raise UserError(f"{path}: not valid JSON ({error})",
                            hint="the model folder is damaged; copy or export it again"
                            ) from None


def _check_safetensors(path: Path) -> None:
    """The header's largest data offset must fit in the file."""
    size = path.stat().st_size
    problem = None
    with path.open("rb") as handle:
        head = handle.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else None
        if length is None or 8 + length > size:
            problem = "shorter than its header"
        else:
            try:
                header = json.loads(handle.read(length))
                end = max((int(v["data_offsets"][1]) for k, v in header.items()
                           if k != "__metadata__"), default=0)
            except (ValueError, KeyError, TypeError, IndexError):
                problem, end = "its header is not valid", 0
            if problem is None and 8 + length + end > size:
                problem = f"truncated ({size:,} bytes of {8 + length + end:,})"
    if problem:
        raise UserError(f"{path}: not a complete safetensors file ({problem})",
                        hint="the weights were cut short (a copy or download that stopped); "
                             "copy or export the model again")


DEVICE_KINDS = ("cpu", "cuda", "mps", "xpu")


def check_device(device: str | None) -> None:
    """``cpu``, ``cuda``, ``cuda:N`` (``mps``, ``xpu``) that exists here, else a UserError."""
    if device is None:
        return
    kind, _, index = str(device).partition(":")
    if kind not in DEVICE_KINDS or (index and not index.isdigit()):
        raise UserError(f"--device {device!r} is not a device; use cpu, cuda or cuda:N")
    if kind == "cpu":
        return
    backend = getattr(torch, kind, None) if kind != "mps" else torch.backends.mps
    available = bool(backend and backend.is_available())
    count = backend.device_count() if available and hasattr(backend, "device_count") else 1
    if not available or (index and int(index) >= count):
        raise UserError(f"--device {device}: no such device on this machine",
                        hint="leave --device out to use the best one available, or pass cpu")


def preflight(ref: str, project: Project | None) -> None:
    """What loading ``ref`` needs, checked before a run is recorded: the train run's final
    model and its base, or the model folder (see ``check_folder``)."""
    run = find_train_run(project, ref)
    if run is None:
        check_folder(resolve_model(ref))
        return
    final = final_model_path(run)
    check_folder(final)
    if (final / "adapter_config.json").is_file():
        check_folder(resolve_model(run.model))
