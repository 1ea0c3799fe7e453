"""The ``[run]`` section of ftp.toml: what `ftp run` does."""

from __future__ import annotations

from ftp import hookimpl
from ftp.api import RegisterSettings, Setting

STAGES = ("data", "train", "eval", "gate", "deploy", "report")  # deploy: when [deploy] says

RUN = (
    Setting("stages", list, list(STAGES), "the stages `ftp run` runs, in order",
            comment="The stages `ftp run` runs in order; a stage whose inputs did not change "
                    "is skipped."),
    Setting("baseline", bool, True, "evaluate the base model and gate against it",
            comment="Evaluate the base model too, and gate the fine-tuned model against it."),
    Setting("report", str, "report.html", "where the report stage writes its HTML",
            comment='Where the "report" stage writes its HTML (relative to the project).'),
)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register("run", RUN)
