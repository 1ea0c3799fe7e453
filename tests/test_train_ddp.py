"""Two-process DDP on CPU (gloo), launched as users do (`torchrun -m ftp train`, `accelerate
launch -m ftp train`): ranks agree, only rank 0 writes to the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_train_support import import_records, make_records, write_config

# A sitecustomize on PYTHONPATH: in each worker (RANK set) it wraps the trainer so the rank
# dumps its final loss and a checksum of its trainable weights; `-m ftp` itself runs as is.
SPY = """
import json, os

def _spy():
    from ftp.offline import go_offline
    go_offline()
    import torch
    from ftp.plugins.training import engine
    original = engine.train_supervised

    def spy(job, model, tokenizer):
        summary = original(job, model, tokenizer)
        weights, every = 0.0, 0.0
        for p in model.parameters():  # an FSDP-sharded one is gathered (every rank, in order)
            full = p.full_tensor() if hasattr(p, "full_tensor") else p
            total = float(full.detach().double().sum())
            every += total
            weights += total if p.requires_grad else 0.0
        out = os.path.join(os.environ["RANK_DIR"], "rank%s.json" % os.environ["RANK"])
        sharded = any(hasattr(p, "full_tensor") for p in model.parameters())
        with open(out, "w") as handle:
            json.dump({"loss": summary.get("final_loss"), "weights": weights, "all": every,
                       "sharded": sharded,
                       "steps": summary["steps"],
                       "world": torch.distributed.get_world_size()}, handle)
        return summary

    engine.train_supervised = spy

if "RANK" in os.environ and "RANK_DIR" in os.environ:
    _spy()
"""
BIN = Path(sys.executable).parent
LAUNCHERS = {
    "torchrun": [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m", "ftp"],
    "accelerate": [str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
                   "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   "--main_process_port", "0", "-m", "ftp"],
}


def launch(launcher: str, project, tmp_path: Path, *args: str) -> list[dict]:
    """Run `ftp -q train ARGS` in 2 processes; each rank's spy report."""
    if not Path(LAUNCHERS[launcher][0]).exists():
        pytest.skip(f"{launcher} missing")
    (tmp_path / "sitecustomize.py").write_text(SPY)
    path = os.pathsep.join([str(tmp_path), str(project.root.parent),
                            os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "RANK_DIR": str(tmp_path), "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    done = subprocess.run([*LAUNCHERS[launcher], "-q", "train", *args],
                          cwd=project.root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_two_process_ddp_on_cpu(project, tiny_model, tmp_path, launcher):
    write_config(project, str(tiny_model), max_steps=3, batch_size=2, lora_dropout=0.0)
    import_records(project, make_records(24))
    ranks = launch(launcher, project, tmp_path, "--name", "ddp")
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3
    assert ranks[0]["weights"] == pytest.approx(ranks[1]["weights"], rel=1e-9, abs=1e-9)

    from ftp.project import Project

    store = Project(project.root).store
    runs = store.list_runs(kind="train")
    assert len(runs) == 1 and runs[0].status == "finished"
    losses = [m for m in store.metrics(runs[0].id, "loss") if m["split"] == "train"]
    assert [m["step"] for m in losses] == [1, 2, 3]
    assert runs[0].summary["real_tokens"] > 0
