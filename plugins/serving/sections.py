"""The ``[deploy]`` section of ftp.toml: how `ftp run` ends when it deploys."""

from __future__ import annotations

from ftp.api import Setting

DEPLOY = (
    Setting("enabled", bool, False, "end `ftp run` with export, serve, endpoint eval, parity",
            comment="End `ftp run` with the deployment check: export the fine-tuned model "
                    "merged (and as GGUF if `gguf` is set), serve it on `engine`, evaluate "
                    "the endpoint on the test split and gate parity with the in-process "
                    "evaluation."),
    Setting("engine", str, "transformers", "the serving engine",
            choices=("transformers", "vllm")),
    Setting("gguf", str, "", "also write the model as GGUF here (relative to the project)",
            nullable=True),
    Setting("quant", str, "f16", "GGUF weight type", choices=("f16", "q8_0")),
    Setting("min_agreement", float, 1.0, "parity floor: share of identical test outputs",
            minimum=0.0, maximum=1.0),
)
