"""The built-in trainers: lora, freeze, full, qlora (supervised) and dpo.

Each is ``trainer(job) -> summary``: it loads the base model, makes the right parameters
trainable, trains through ``engine``, and (on rank 0) writes the final model with its
tokenizer to ``job.final_dir``: a PEFT adapter folder for lora/qlora/dpo, a full model
folder for freeze/full.
"""

from __future__ import annotations

from typing import Any

from ftp import hookimpl
from ftp.api import Tokenizer, TrainJob
from ftp.errors import UserError


def lora_config(settings: dict[str, Any]) -> Any:
    from peft import LoraConfig

    targets = settings["target_modules"]
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(r=settings["lora_r"], lora_alpha=settings["lora_alpha"],
                      lora_dropout=settings["lora_dropout"], target_modules=targets,
                      use_dora=settings["dora"], use_rslora=settings["rslora"],
                      task_type="CAUSAL_LM")


def load_for_training(job: TrainJob, **kwargs: Any) -> tuple[Any, Tokenizer]:
    """The base model and tokenizer of ``job``, ready to train (FSDP-sharded where set).

    Seeded first: adapter initialisation draws random numbers, and seeded runs repeat."""
    from transformers import set_seed

    from ftp.plugins.models import load_model

    set_seed(job.settings["seed"])
    if sharded(job):
        kwargs["distributed"] = fsdp_config()
    return load_model(job.model_ref, job.project, for_training=True, **kwargs)


def sharded(job) -> bool:
    from ftp.plugins.training.distributed import fsdp_sharded

    return fsdp_sharded(job.settings)


def fsdp_config() -> Any:
    """FSDP2 over every process, through transformers' own load-time sharding: each decoder
    layer and the embeddings are sharded (the model's ``fsdp_plan``), and the Trainer keeps
    parameters added after sharding (LoRA adapters) identical across ranks itself. Works with
    gloo on CPU as with NCCL on GPUs."""
    from transformers.distributed import DistributedConfig

    from ftp.plugins.training.distributed import world_size

    return DistributedConfig(fsdp_size=world_size())


def with_lora(model: Any, settings: dict[str, Any]) -> Any:
    """``model`` with LoRA adapters from ``settings`` (``lora_r``, ``target_modules``...)."""
    from peft import get_peft_model

    try:
        return get_peft_model(model, lora_config(settings))
    except ValueError as error:  # e.g. target modules not found in the model
        raise UserError(f"cannot apply LoRA: {error}") from None


def freeze_layers(model: Any, settings: dict[str, Any]) -> Any:
    """Train only the last N decoder layers, or the modules whose names contain a pattern."""
    for parameter in model.parameters():
        parameter.requires_grad = False
    patterns = [p.strip() for p in settings["trainable_modules"].split(",") if p.strip()]
    if patterns:
        chosen = [p for name, p in model.named_parameters() if any(x in name for x in patterns)]
        if not chosen:
            raise UserError(f"no module name contains any of {patterns}")
    else:
        layers = model.get_decoder().layers
        n = settings["freeze_trainable_layers"]
        if not 0 < n <= len(layers):
            raise UserError(f"freeze_trainable_layers must be 1..{len(layers)}, got {n}")
        chosen = [p for layer in layers[-n:] for p in layer.parameters()]
    for parameter in chosen:
        parameter.requires_grad = True
    return model


def supervised(job, prepare) -> dict[str, Any]:
    from ftp.plugins.training.distributed import is_main_process
    from ftp.plugins.training.engine import train_supervised

    model, tokenizer = load_for_training(job)
    model = prepare(model, job.settings)
    summary = train_supervised(job, model, tokenizer)
    summary["trainable_parameters"] = sum(p.numel() for p in model.parameters()
                                          if p.requires_grad)
    if not job.dry_run_steps and (is_main_process() or sharded(job)):
        save_final(model, tokenizer, job)  # sharded: every rank gathers, rank 0 writes
        summary["final_model"] = str(job.final_dir)
    return summary


def save_final(model: Any, tokenizer: Tokenizer, job) -> None:
    """Write the final model atomically: a temporary folder renamed into place."""
    import shutil

    from ftp.plugins.training.distributed import is_main_process

    main = is_main_process()
    tmp = job.final_dir.with_name(".final.tmp")
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), is_main_process=main)
    if not main:
        return
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(job.final_dir, ignore_errors=True)
    tmp.rename(job.final_dir)


def train_lora(job) -> dict[str, Any]:
    return supervised(job, with_lora)


def train_freeze(job) -> dict[str, Any]:
    return supervised(job, freeze_layers)


def train_full(job) -> dict[str, Any]:
    return supervised(job, lambda model, settings: model)


def train_qlora(job) -> dict[str, Any]:
    from ftp.plugins.training.qlora import train

    return train(job)


def _check_qlora(settings: dict[str, Any]) -> None:
    from ftp.plugins.training.qlora import check_available

    check_available()


train_qlora.check = _check_qlora  # type: ignore[attr-defined]  # runs before a run is recorded


def train_dpo(job) -> dict[str, Any]:
    from ftp.plugins.training.dpo import train

    return train(job)


@hookimpl
def register_trainers(register) -> None:
    register("lora", train_lora, description="PEFT LoRA adapters (DoRA, rsLoRA switches)")
    register("freeze", train_freeze, description="train the last N layers, freeze the rest")
    register("full", train_full, description="train every parameter")
    register("qlora", train_qlora, description="4-bit base (bitsandbytes) + LoRA, CUDA only")
    register("dpo", train_dpo, description="preference optimisation with TRL's DPOTrainer")
