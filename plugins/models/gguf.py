"""GGUF files: converted once with transformers (``gguf_file=``) and cached as safetensors.

transformers dequantises a GGUF checkpoint into a regular model; the cache lives under
``FTP_HOME/models/gguf/<name>-<key>`` where the key covers the file's path, size and mtime,
so a changed file is converted again. Writes go to a temporary folder renamed into place,
so an interrupted conversion never leaves a half-written model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftp.errors import UserError
from ftp.paths import models_dir
from ftp.progress import info


def cache_folder(gguf: Path) -> Path:
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    return models_dir() / "gguf" / f"{gguf.stem}-{key[:12]}"


def converted(gguf: Path) -> Path:
    """The cached safetensors folder for ``gguf``, converting it on first use."""
    target = cache_folder(gguf)
    if (target / "config.json").is_file():
        return target
    convert(gguf, target, source=f"gguf:{gguf}")
    return target


def convert(gguf: Path, target: Path, source: str, extra: dict | None = None) -> Path:
    """Dequantise ``gguf`` into a safetensors model folder at ``target`` (atomically)."""
    info(f"Converting {gguf.name} to safetensors (once) ...")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        kwargs = {"gguf_file": gguf.name}
        try:
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), dtype=torch.float32,
                                                         **kwargs)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
        except Exception as error:  # transformers raises many kinds for an unreadable file
            raise UserError(f"{gguf}: cannot read it as a GGUF model ({error})") from None
        _forget_quantizer(model)
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        meta = {"source": source, **(extra or {})}
        (tmp / "ftp-model.json").write_text(json.dumps(meta, indent=2))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _forget_quantizer(model) -> None:
    """The GGUF weights are already dequantised; drop the marker that blocks saving them."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
