"""A training process killed with SIGKILL resumes to the same loss and adapter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.test_train_support import import_records, make_records, write_config

# Runs `ftp train` in a child process that SIGKILLs itself after step KILL_AT has ended
# (checkpoints every 2 steps, so step 4's checkpoint is complete and step 5's work is lost).
DRIVER = """
import os, signal, sys
from transformers import TrainerCallback
from ftp.plugins.training import engine

class Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)

original = engine.callbacks
engine.callbacks = lambda *a: original(*a) + [Kill()]
from ftp.cli import main
main(sys.argv[1:])
"""


@pytest.fixture
def resumable(project, tiny_model):
    write_config(project, str(tiny_model), max_steps=8, save_steps=2, lora_dropout=0.1)
    import_records(project, make_records(32))
    return project


def test_sigkill_then_resume_matches_uninterrupted(resumable, invoke, tmp_path):
    whole = invoke("-q", "train", "--json", "--name", "whole")
    assert whole.exit_code == 0, whole.output
    whole = json.loads(whole.stdout)

    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "KILL_AT": "5", "PYTHONPATH": str(resumable.root.parent)}
    killed = subprocess.run([sys.executable, str(driver), "-q", "train", "--name", "killed"],
                            cwd=resumable.root, env=env, capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    from ftp.project import Project

    run = Project(resumable.root).store.get_run("killed")  # a fresh open notices the death
    assert run.status == "failed" and "killed" in run.error
    checkpoints = resumable.root / run.artifacts_path / "checkpoints"
    assert (checkpoints / "checkpoint-4" / "COMPLETE").is_file()
    assert not (checkpoints / "checkpoint-6").exists()

    resumed = invoke("-q", "train", "--json", "--resume", "killed")
    assert resumed.exit_code == 0, resumed.output
    resumed = json.loads(resumed.stdout)
    assert resumed["id"] == run.id and resumed["status"] == "finished"
    assert resumed["summary"]["resumed_from_step"] == 4
    assert resumed["summary"]["final_loss"] == pytest.approx(whole["summary"]["final_loss"],
                                                             abs=1e-5)
    a = load_file(whole["summary"]["final_model"] + "/adapter_model.safetensors")
    b = load_file(resumed["summary"]["final_model"] + "/adapter_model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    steps = [m["step"] for m in resumable.store.metrics(run.id, "loss") if m["split"] == "train"]
    assert steps == list(range(1, 9))


def test_resume_refuses_a_finished_run(resumable, invoke):
    assert invoke("-q", "train", "--max-steps", "2").exit_code == 0
    result = invoke("train", "--resume", "latest")
    assert result.exit_code == 2 and "already finished" in result.output
