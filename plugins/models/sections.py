"""The ``[model]`` section of ftp.toml."""

from __future__ import annotations

from ftp import hookimpl
from ftp.api import RegisterSettings, Setting

MODEL = (
    Setting("path", str, "smollm2-135m-instruct",
            "a local model folder, a GGUF file or an installed model's name",
            comment="A local Hugging Face model folder, a GGUF file, or a model installed "
                    "with\n`ftp models pull` (e.g. \"smollm2-135m-instruct\"). Never "
                    "downloaded from a hub."),
)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register("model", MODEL)
