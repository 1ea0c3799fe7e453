"""``benchmarks/gpu.sh --smoke`` runs every part of the prepared GPU script on CPU with tiny
shapes and writes one JSON: training (ftp against TRL's padding-free arm, same batches) and
scoring (FastLM against HFLM, log-likelihoods within 1e-4, identical accuracies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_script_smoke(tmp_path):
    out = tmp_path / "gpu_smoke.json"
    env = dict(os.environ, FTP_GPU_OUT=str(out), PYTHON=sys.executable, TMPDIR=str(tmp_path),
               FTP_GPU_PARTS="train,eval")  # serve.py (issue 12) has its own smoke test
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--smoke"], env=env,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    payload = json.loads(out.read_text())
    assert payload["smoke"] is True and payload["serve"] is None
    train = payload["train"]["result"]["results"][0]
    assert set(train["arms"]) == {"trl_padding_free", "ftp"}
    versus = train["comparisons"]["fp32"]["trl_padding_free"]
    assert versus["first_step_loss_difference"] < 1e-4  # same batches, same loss
    assert train["loss_difference_identical_batch"]["fp32"] < 1e-4
    scoring = payload["eval"]["result"]
    assert scoring["max_loglik_abs_diff"] <= 1e-4 and scoring["identical_accuracy"]
    assert {"hflm_bs4", "hflm_auto", "ftp_fastlm"} <= set(scoring["configs"])
    assert set(scoring["ratio_vs_best_per_task"]) == {"arc_challenge", "mmlu_abstract_algebra"}
    assert "train smoke-qwen: ftp" in done.stdout and "eval: FastLM" in done.stdout
