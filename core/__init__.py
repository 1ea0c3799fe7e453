"""ftp: evaluation-first fine-tuning of small language models, on-premises.

``import ftp`` is light: torch, transformers, lm-eval and presidio are imported only by the
code that needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ftp import api
from ftp.api import (
    DataSource,
    ErrorCategorizer,
    EvalJob,
    EvalResult,
    EvalSettings,
    Evaluator,
    Formatter,
    Generator,
    ModelProvider,
    PIIDetector,
    RecordFormat,
    Register,
    RegisterSettings,
    RunRecord,
    Sample,
    Section,
    Setting,
    Trainer,
    TrainJob,
)
from ftp.hookspecs import hookimpl
from ftp.offline import go_offline as _go_offline

# Nothing leaves the machine through the Python API either: the offline variables and the
# network guard are on from the first `import ftp` (ftp.api and the hookspecs import no
# heavy library), and in every Python child from then on.
_go_offline()

__version__ = "0.1.0"

__all__ = [
    "DataSource", "ErrorCategorizer", "EvalJob", "EvalResult", "EvalSettings", "Evaluator",
    "Formatter", "Generator", "ModelProvider", "PIIDetector", "Project", "RecordFormat",
    "Register", "RegisterSettings", "RunRecord", "Sample", "Section", "Setting", "TrainJob",
    "Trainer", "__version__", "api", "hookimpl", "init_project", "open_project",
]

if TYPE_CHECKING:
    from ftp.project import Project


def __getattr__(name: str) -> object:
    if name == "Project":
        from ftp.project import Project

        return Project
    raise AttributeError(name)


def open_project(start: str | None = None) -> Project:
    """The project containing ``start`` (default: the current folder)."""
    from ftp.project import Project

    return Project.find(start)


def init_project(path: str, name: str | None = None) -> Project:
    """Create a project in ``path``."""
    from ftp.project import Project

    return Project.init(path, name=name)
