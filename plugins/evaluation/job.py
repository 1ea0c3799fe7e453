"""What an evaluator receives: the model (loaded on first use), pinned settings, the project.

Settings are pinned on purpose: batch size changes scores through padding, so a baseline
and a candidate are compared only when every setting that changes numbers is equal; they
all enter the config hash that keys the result cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ftp.api import EvalSettings, Project, RunRecord, Sample, Tokenizer

__all__ = ["EvalJob", "EvalSettings"]


@dataclass
class EvalJob:
    model_ref: str
    settings: EvalSettings = field(default_factory=EvalSettings)
    project: Project | None = None
    run: RunRecord | None = None
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    _loaded: tuple[Any, Tokenizer] | None = None
    _lm: Any = None

    def model_and_tokenizer(self) -> tuple[Any, Tokenizer]:
        """``(model, tokenizer)``, loaded once; a train run's adapter is applied."""
        if self._loaded is None:
            from ftp.errors import UserError
            from ftp.plugins.models import load_model

            try:
                model, tokenizer = load_model(self.model_ref, self.project,
                                              device=self.settings.device)
            except (OSError, ValueError) as error:  # e.g. a folder without a tokenizer
                first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise UserError(f"cannot load model {self.model_ref}: {first}",
                                hint="a model folder needs config.json, weights and "
                                     "tokenizer files") from None
            model.eval()
            self._loaded = (model, tokenizer)
        return self._loaded

    def lm(self) -> Any:
        """The lm-eval model wrapper (``FastLM``) around the loaded model."""
        if self._lm is None:
            from ftp.plugins.evaluation.fast_lm import FastLM

            model, tokenizer = self.model_and_tokenizer()
            self._lm = FastLM(pretrained=model, tokenizer=tokenizer,
                              batch_size=self.settings.batch_size)
        return self._lm

    def add_samples(self, task: str, samples: list[Sample]) -> None:
        """Per-document outcomes of ``task``; stored (scrubbed) with the results."""
        self.samples.setdefault(task, []).extend(samples)

