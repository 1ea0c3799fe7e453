"""``benchmarks/serve.py --smoke`` (the serving part of benchmarks/gpu.sh) runs on CPU with the
tiny model: in-process generate and a real `transformers serve`, the same requests, every
row measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_serve_benchmark_smoke(tmp_path):
    out = tmp_path / "serve.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serve.py"), "--smoke",
                           "--out", str(out)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "FTP_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-3000:]
    payload = json.loads(out.read_text())
    arms = [(r["arm"], r["concurrency"]) for r in payload["rows"]]
    assert arms[:4] == [("in-process generate", 1), ("in-process generate", 4),
                        ("transformers serve", 1), ("transformers serve", 4)]
    for row in payload["rows"]:
        assert row["tokens_per_s"] > 0 and row["ttft_p50_ms"] > 0 and row["requests"] >= 4
        assert row["cost_per_m_tokens"] > 0
    served = [r for r in payload["rows"] if r["arm"] == "transformers serve"]
    assert all(r["failed"] == 0 and r["itl_p50_ms"] > 0 for r in served)
    assert payload["tokens_per_request"] == 8 and len(payload["loadavg_before"]) == 3
