"""The ``[project]`` section of ftp.toml, declared like any plugin's settings."""

from __future__ import annotations

from ftp import hookimpl
from ftp.api import RegisterSettings, Setting

PROJECT = (
    Setting("name", str, "my-project", "the project's name, shown in reports"),
    Setting("task", str, "Describe the task the fine-tuned model should perform.",
            "what the model should learn to do, in a sentence"),
)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register("project", PROJECT,
             help="What the model should learn to do, in a sentence. Shown in reports.")
