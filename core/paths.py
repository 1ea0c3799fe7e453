"""Where ftp keeps things outside a project: models and benchmark data under FTP_HOME."""

from __future__ import annotations

import os
from pathlib import Path


def ftp_home() -> Path:
    """``$FTP_HOME``, else ``$XDG_DATA_HOME/ftp``, else ``~/.local/share/ftp``."""
    if os.environ.get("FTP_HOME"):
        return Path(os.environ["FTP_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ftp"


def models_dir() -> Path:
    return ftp_home() / "models"


def benchmarks_dir() -> Path:
    return ftp_home() / "benchmarks"
