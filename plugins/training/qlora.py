"""QLoRA: a 4-bit NF4 base (bitsandbytes) with LoRA adapters; needs a CUDA GPU."""

from __future__ import annotations

from typing import Any

from ftp.errors import UserError


def check_available() -> None:
    import torch

    if not torch.cuda.is_available():
        raise UserError("qlora needs a CUDA GPU (bitsandbytes 4-bit); this machine has none",
                        hint="use --method lora on this machine")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise UserError("qlora needs the bitsandbytes package",
                        hint="pip install bitsandbytes") from None


def train(job) -> dict[str, Any]:
    check_available()
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    from ftp.plugins.training import methods

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                               bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)

    def prepare(model: Any, settings: dict[str, Any]) -> Any:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
        return methods.with_lora(model, settings)

    model, tokenizer = _load_quantized(job, quant)
    from ftp.plugins.training.distributed import is_main_process
    from ftp.plugins.training.engine import train_supervised

    model = prepare(model, job.settings)
    summary = train_supervised(job, model, tokenizer)
    if is_main_process() and not job.dry_run_steps:
        methods.save_final(model, tokenizer, job)
        summary["final_model"] = str(job.final_dir)
    return summary


def _load_quantized(job, quant: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    from ftp.plugins.models import resolve_model
    from ftp.plugins.models.loading import load_tokenizer

    folder = resolve_model(job.model_ref)
    model = AutoModelForCausalLM.from_pretrained(str(folder), quantization_config=quant,
                                                 device_map={"": 0})
    model.config.use_cache = False
    return model, load_tokenizer(folder)
