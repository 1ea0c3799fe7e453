"""Model providers and loading: local Hugging Face folders, GGUF files, installed models.

Public API (other plugins use these)::

    resolve_model(ref) -> Path         # a folder transformers can load
    load_model(ref, project=None, *, dtype=None, device=None, for_training=False)
        -> (model, tokenizer)          # ref may also be a train run of ``project``

Light on purpose: torch and transformers are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftp.errors import NotFound

if TYPE_CHECKING:
    from ftp.project import Project

DEFAULT_MODEL = "smollm2-135m-instruct"


def resolve_model(ref: str | Path) -> Path:
    """The local folder holding model ``ref``; asks every registered model provider.

    A path to a folder without ``config.json`` is a ``UserError``; a missing path or an
    unknown name is ``NotFound`` naming what was tried.
    """
    from ftp import registry

    ref = str(ref)
    providers = registry.collect("model_providers")
    for registered in providers.values():
        found = registered.obj.resolve(ref)
        if found is not None:
            return Path(found)
    raise _not_found(ref)


def _not_found(ref: str) -> NotFound:
    from ftp.paths import models_dir

    path = Path(ref).expanduser()
    if _looks_like_path(ref):
        return NotFound(f"model path {path.resolve()} does not exist",
                        hint="pass a Hugging Face model folder or a .gguf file")
    return NotFound(
        f"no model {ref!r}: not a path, and not installed in {models_dir() / ref}",
        hint=f"`ftp models pull {DEFAULT_MODEL}` installs the default; "
             "`ftp models list` shows what is installed",
    )


def _looks_like_path(ref: str) -> bool:
    return "/" in ref or "\\" in ref or ref.startswith(".") or ref.endswith(".gguf")


def load_model(ref: str | Path, project: Project | None = None, *, dtype: Any = None,
               device: Any = None, for_training: bool = False,
               distributed: Any = None) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for a model reference or a train run of ``project``.
    ``distributed``: a transformers ``DistributedConfig`` (e.g. FSDP2 sharding at load)."""
    from ftp.plugins.models.loading import load

    return load(str(ref), project, dtype=dtype, device=device, for_training=for_training,
                distributed=distributed)


__all__ = ["DEFAULT_MODEL", "load_model", "resolve_model"]
