"""Where this process stands among the launched ones (torchrun / accelerate launch set RANK and
WORLD_SIZE): a leaf module every training module may import, importing none of them."""

from __future__ import annotations

import os
from typing import Any

import torch.distributed as dist


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0: the one process that records runs and writes final files."""
    return rank() == 0


def fsdp_sharded(settings: dict[str, Any]) -> bool:
    """FSDP asked for and more than one process: the model is sharded as it loads."""
    return settings.get("distributed") == "fsdp" and world_size() > 1


def setup_distributed() -> None:
    """The process group, once, when launched as several processes (gloo on CPU)."""
    if world_size() > 1:
        import torch
        from accelerate import PartialState

        PartialState(backend=None if torch.cuda.is_available() else "gloo")


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a no-op in one process)."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
