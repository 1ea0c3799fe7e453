"""Models loaded for generation (chat, latency, serving): a model reference or a train run, on
the best device, in eval mode."""

from __future__ import annotations

from typing import Any

import torch

from ftp.plugins.models import load_model
from ftp.project import Project


def load_for_inference(ref: str, project: Project | None) -> tuple[Any, Any]:
    """A model reference or a train run of the project, on the best device, in eval mode."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model, tokenizer = load_model(ref, project, device="cuda" if torch.cuda.is_available()
                                  else None)
    return model.eval(), tokenizer
