"""DPO on prompt/chosen/rejected pairs with TRL's ``DPOTrainer`` and a LoRA adapter.

The reference model is the base with the adapter disabled (TRL does this when it gets a
``peft_config`` and no ``ref_model``), so no second copy of the model is held in memory.
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset
from trl import DPOConfig, DPOTrainer

from ftp.errors import UserError
from ftp.plugins.training import methods
from ftp.plugins.training.callbacks import TokenCounter
from ftp.plugins.training.distributed import is_main_process
from ftp.plugins.training.engine import NanGuard, callbacks, run_trainer, training_arguments
from ftp.plugins.training.progress import install


def train(job) -> dict[str, Any]:
    if not job.train_data or "chosen" not in job.train_data[0]:
        raise UserError("--method dpo needs preference pairs (prompt, chosen, rejected)")
    model, tokenizer = methods.load_for_training(job)
    arguments = training_arguments(job, beta=job.settings["dpo_beta"],
                                   max_length=job.settings.get("max_length", 1024))
    tokens, guard = TokenCounter(), NanGuard()
    trainer = DPOTrainer(
        model=model, args=DPOConfig(**arguments), processing_class=tokenizer,
        train_dataset=Dataset.from_list(job.train_data),
        eval_dataset=Dataset.from_list(job.eval_data) if job.eval_data else None,
        peft_config=methods.lora_config(job.settings),
        callbacks=callbacks(job, tokens, guard),
    )
    install(trainer)
    summary = run_trainer(job, trainer, guard, tokens)
    summary.pop("tokens_per_s", None)
    summary.pop("real_tokens", None)
    rewards = [e for e in trainer.state.log_history if "rewards/accuracies" in e]
    if rewards:
        summary["reward_accuracy"] = rewards[-1]["rewards/accuracies"]
        summary["reward_margin"] = rewards[-1].get("rewards/margins")
    if is_main_process() and not job.dry_run_steps:
        methods.save_final(trainer.model, tokenizer, job)
        summary["final_model"] = str(job.final_dir)
    return summary
