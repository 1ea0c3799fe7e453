"""Built-in model providers: local folders and GGUF files, and models installed in FTP_HOME.

A provider's ``resolve(ref)`` returns a folder transformers can load, or ``None`` when the
reference is not its kind; ``list()`` describes what it has locally. Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftp import hookimpl
from ftp.errors import UserError
from ftp.paths import models_dir

INFO_NAME = "ftp-model.json"


class LocalProvider:
    """``--model PATH``: a Hugging Face model folder, or a GGUF file converted once."""

    def resolve(self, ref: str) -> Path | None:
        path = Path(ref).expanduser()
        if path.is_dir():
            return check_model_folder(path.resolve())
        if path.is_file():
            if path.suffix.lower() != ".gguf":
                raise UserError(f"{path.resolve()} is a file but not a .gguf model",
                                hint="pass a Hugging Face model folder or a .gguf file")
            from ftp.plugins.models.gguf import converted

            return converted(path.resolve())
        return None

    def list(self) -> list[dict[str, Any]]:
        gguf_root = models_dir() / "gguf"
        if not gguf_root.is_dir():
            return []
        return [describe(p, source="gguf cache") for p in sorted(gguf_root.iterdir())
                if (p / "config.json").is_file()]


class InstalledProvider:
    """Names of models installed under ``FTP_HOME/models`` (``ftp models pull``)."""

    def resolve(self, ref: str) -> Path | None:
        if "/" in ref or "\\" in ref or ref in ("", ".", ".."):
            return None
        folder = models_dir() / ref
        return folder if (folder / "config.json").is_file() else None

    def list(self) -> list[dict[str, Any]]:
        root = models_dir()
        if not root.is_dir():
            return []
        return [describe(p, source="installed") for p in sorted(root.iterdir())
                if (p / "config.json").is_file()]


def check_model_folder(path: Path) -> Path:
    """``path`` if it holds a model config, else a UserError saying what is missing."""
    if not (path / "config.json").is_file():
        raise UserError(f"{path} is a folder but not a Hugging Face model (no config.json)",
                        hint="point --model at the folder holding config.json and the weights")
    return path


def describe(path: Path, source: str) -> dict[str, Any]:
    """Name, size on disk and parameter count (from the weights' headers, no loading)."""
    info = {}
    if (path / INFO_NAME).is_file():
        info = json.loads((path / INFO_NAME).read_text())
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {"name": path.name, "source": info.get("source", source), "path": str(path),
            "size_mb": round(size / 2**20, 1), "parameters": count_parameters(path)}


def count_parameters(path: Path) -> int | None:
    """Parameters in a folder's safetensors files, read from their headers only."""
    files = sorted(path.glob("*.safetensors"))
    if not files:
        return None
    from safetensors import safe_open

    total = 0
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                shape = handle.get_slice(key).get_shape()
                n = 1
                for dim in shape:
                    n *= dim
                total += n
    return total


@hookimpl
def register_model_providers(register) -> None:
    register("local", LocalProvider(), description="a Hugging Face folder or a .gguf file")
    register("installed", InstalledProvider(), description="models under FTP_HOME/models")
