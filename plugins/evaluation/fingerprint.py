"""Hashes that key the result cache: the model's weights and an evaluation's config.

The model hash covers the bytes of every file in the model folder (a train run: its final
folder and, for an adapter, the base model's), so a model retrained and saved at the same
path gets a new hash. File hashes are remembered by (path, size, mtime) under FTP_HOME so
re-hashing an unchanged 500 MB model is instant.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftp import paths
from ftp.plugins.models import resolve_model
from ftp.plugins.models.loading import final_model_path, find_train_run

if TYPE_CHECKING:
    from ftp.project import Project

SKIP_DIRS = {"__pycache__", ".git", "checkpoints"}


def model_hash(ref: str, project: Project | None) -> str:
    """The hash of the weights (and tokenizer files) ``ref`` names."""
    return _digest(model_folders(ref, project))


def model_folders(ref: str, project: Project | None) -> list[Path]:
    run = find_train_run(project, ref)
    if run is None:
        return [resolve_model(ref)]
    final = final_model_path(run)
    if (final / "adapter_config.json").is_file():
        return [final, resolve_model(run.model)]
    return [final]


def _digest(folders: list[Path]) -> str:
    cache = _Cache()
    digest = hashlib.sha256()
    for folder in folders:
        for path in _files(folder):
            digest.update(path.name.encode())
            digest.update(cache.file_hash(path).encode())
    cache.save()
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        found.extend(Path(root) / name for name in sorted(files) if not name.startswith("."))
    return found


class _Cache:
    def __init__(self) -> None:
        self.path = paths.ftp_home() / "cache" / "file_hashes.json"
        try:
            self.entries: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}
        self.dirty = False

    def file_hash(self, path: Path) -> str:
        stat = path.stat()
        key = str(path.resolve())
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = self.entries.get(key)
        if entry and entry[0] == stamp:
            return entry[1]
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self.entries[key] = [stamp, digest.hexdigest()]
        self.dirty = True
        return digest.hexdigest()

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries))
        temporary.replace(self.path)


def evaluator_identity(name: str, evaluator: Any, job: Any) -> str:
    """What identifies an evaluator's code and inputs in the cache key: its name, the source
    of the module defining it (so an edited evaluator is never served stale), its declared
    ``version`` and its ``fingerprint(job)`` (the data it reads), where it has them."""
    parts = [name, _source_hash(evaluator)]
    version = getattr(evaluator, "version", None)
    if version is not None:
        parts.append(f"version:{version}")
    declared = getattr(evaluator, "fingerprint", None)
    if callable(declared):
        parts.append(str(declared(job)))
    return "|".join(parts)


def _source_hash(evaluator: Any) -> str:
    target = evaluator if inspect.isfunction(evaluator) or inspect.ismethod(evaluator) \
        else type(evaluator)
    try:
        path = inspect.getsourcefile(target)
    except TypeError:  # a builtin or C callable: no source to hash
        path = None
    return _file_digest(path) if path else "no-source"


@lru_cache(maxsize=64)
def _file_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "unreadable"


def config_hash(evaluator: str, fingerprint: str, settings: dict[str, Any]) -> str:
    """The hash of what decides an evaluator's numbers besides the weights."""
    versions = {}
    for package in ("lm_eval", "transformers", "torch", "ftp"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    value = {"evaluator": evaluator, "fingerprint": fingerprint, "settings": settings,
             "versions": versions}
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
