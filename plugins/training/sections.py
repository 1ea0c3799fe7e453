"""The ``[train]`` section of ftp.toml: the one list of training settings, their types and
defaults (``job.settings`` reads it; the template and validation are built from it)."""

from __future__ import annotations

from typing import Any

from ftp import hookimpl
from ftp.api import RegisterSettings, Setting

TRAIN = (
    Setting("method", str, "lora", "the training method (a registered trainer)",
            comment='"lora", "freeze", "full", "qlora" or "dpo".'),
    Setting("epochs", float, 1, "passes over the training data", minimum=0),
    Setting("max_steps", int, -1, "stop after this many steps (-1: epochs decide)"),
    Setting("learning_rate", float, 2e-4, "the peak learning rate", minimum=0),
    Setting("batch_size", int, 8, "examples per step and process", minimum=1),
    Setting("gradient_accumulation", int, 1, "steps accumulated per update", minimum=1),
    Setting("seed", int, 42, "the random seed"),
    Setting("packing", bool, True, "pack a step's examples into one row, no padding",
            comment="Pack a step's examples end to end in one row, no padding, each "
                    "attending only to itself\n(much faster than padding; the loss is the "
                    "same). pack_tokens caps the row width only for\nmodels outside "
                    "transformers' attention interface, which pack into several rows "
                    "instead."),
    Setting("pack_tokens", int, 2048, "the widest packed row", minimum=1),
    Setting("lora_r", int, 16, "the LoRA rank", minimum=1),
    Setting("lora_alpha", int, 32, "the LoRA scaling numerator"),
    Setting("lora_dropout", float, 0.05, "dropout on the LoRA input", minimum=0, maximum=1),
    Setting("target_modules", str, "all-linear",
            "modules that get adapters: \"all-linear\" or comma-separated names"),
    Setting("dora", bool, False, "weight-decomposed LoRA",
            comment="LoRA variants: weight-decomposed (DoRA) and rank-stabilised scaling "
                    "(rsLoRA)."),
    Setting("rslora", bool, False, "rank-stabilised LoRA scaling"),
    Setting("freeze_trainable_layers", int, 2, "method freeze: the last N layers train",
            minimum=0,
            comment='method "freeze": train the last N decoder layers, or the modules whose '
                    "names contain\none of these comma-separated patterns (e.g. "
                    '"mlp,norm"); the rest stay frozen.'),
    Setting("trainable_modules", str, "", "method freeze: name patterns that train"),
    Setting("warmup_ratio", float, 0.0, "learning-rate warmup as a fraction of the steps",
            minimum=0, maximum=1,
            comment="Learning-rate warmup as a fraction of the steps; DPO's beta (strength "
                    "of the KL penalty)."),
    Setting("dpo_beta", float, 0.1, "DPO's beta", minimum=0),
    Setting("save_steps", int, 50, "checkpoint every N steps", minimum=1),
    Setting("eval_steps", int, 50, "validation loss every N steps", minimum=1),
    Setting("early_stopping_patience", int, 0, "evaluations without improvement (0: off)",
            minimum=0),
    Setting("distributed", str, "ddp", "how processes share the model",
            choices=("ddp", "fsdp"),
            comment='Under torchrun / accelerate launch: "ddp" copies the model to every '
                    'process; "fsdp" shards\nit across them (FSDP2; for models that do not '
                    "fit one device; lora, freeze and full)."),
    Setting("precision", str, "auto", "bf16 autocast or fp32", choices=("auto", "fp32", "bf16"),
            comment='"auto": bf16 autocast on a GPU that has it, fp32 on CPU; "bf16" also on '
                    "a CPU with avx512_bf16\nor amx_bf16 (benchmarks/README.md has the speed and "
                    "loss difference)."),
)

DEFAULTS: dict[str, Any] = {setting.key: setting.default for setting in TRAIN}
TYPES: dict[str, type] = {setting.key: setting.type for setting in TRAIN}


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register("train", TRAIN)
