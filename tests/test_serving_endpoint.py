"""`ftp serve` as a real process (transformers serve on 127.0.0.1 behind the scrubbing proxy),
evaluated through HTTP with `ftp eval URL`, gated for parity against the in-process run,
measured by `ftp bench serve`; bad input exits 2 with one line and stores nothing.

One server for the module (startup is ~15 s on a shared 2-core machine); the last test
stops it with SIGINT, as Ctrl-C would, and checks the engine went with it.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ftp.plugins.serving.engine import free_port
from tests.serving_helpers import PLANTED, planted_model, start_serve, stop_serve
from tests.test_train_support import import_records, make_records, write_config

KEY = "test-key"


@pytest.fixture(scope="module")
def planted(tiny_model, tmp_path_factory) -> Path:
    return planted_model(tiny_model, tmp_path_factory.mktemp("planted") / "model")


@pytest.fixture(scope="module")
def server(planted, tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    process = start_serve([str(planted), "--port", str(port), "--scrub-outputs",
                           "--api-key", KEY], url, log, api_key=KEY)
    yield {"url": url, "process": process, "model": str(planted), "log": log}
    stop_serve(process)


def _post(url: str, body: dict, key: str | None = KEY) -> bytes:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=120) as reply:
        return reply.read()


def _one_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    return lines[0]


def test_scrub_outputs_replaces_the_planted_email_in_a_streamed_reply(server):
    body = {"model": server["model"], "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 24, "temperature": 0, "stream": True}
    events = [json.loads(line[5:]) for line in _post(f"{server['url']}/chat/completions", body)
              .decode().splitlines() if line.startswith("data: {")]
    text = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
    assert "<EMAIL_ADDRESS>" in text and PLANTED not in text and text.startswith("Write to")
    assert events[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert events[-1]["choices"][0]["finish_reason"] is not None
    with pytest.raises(urllib.error.HTTPError) as refused:
        _post(f"{server['url']}/chat/completions", body, key=None)
    assert refused.value.code == 401
    assert "Summarise" not in server["log"].read_text()  # bodies are not logged


def _configure(project, model: str) -> None:
    write_config(project, model)
    with project.config_path.open("a") as config:
        config.write("[eval]\nmax_new_tokens = 32\n")
    project.__dict__.pop("config", None)


def test_served_model_passes_parity_with_the_in_process_run(server, project, invoke):
    _configure(project, server["model"])
    import_records(project, make_records(40))
    gates = project.root / "gates.toml"
    gates.write_text('[[gate]]\nsource = "parity"\nmin_agreement = 1.0\n\n'
                     '[[gate]]\ntask = "testset"\nmetric = "token_f1"\nmax_drop = 0.0\n')
    result = invoke("eval", server["url"], "--model-name", server["model"], "--api-key", KEY,
                    "--baseline", server["model"], "--gates", str(gates), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    parity = next(d for d in report["gates"] if d["gate"] == "parity/testset")
    assert parity["passed"] and parity["value"] == 1.0, parity
    assert parity["parity"]["n"] == len(project.store.samples(report["run"], "testset")) > 0
    served = project.store.get_run(report["run"])
    assert served.kind == "eval" and served.model == server["url"]
    outputs = [s["output"] for s in project.store.samples(served.id, "testset")]
    assert all(PLANTED not in o for o in outputs)


def test_a_server_without_logprobs_is_refused_for_benchmarks(server, project, invoke):
    write_config(project, server["model"])
    line = _one_line(invoke("eval", server["url"], "--api-key", KEY, "--suite", "arc_easy"))
    assert "log-probabilities" in line
    assert project.runs() == []


def test_unreachable_url_and_wrong_key_store_nothing(server, project, invoke):
    write_config(project, server["model"])
    line = _one_line(invoke("eval", f"http://127.0.0.1:{free_port()}/v1", "--suite", "testset"))
    assert "cannot reach" in line
    line = _one_line(invoke("eval", server["url"], "--api-key", "wrong"))
    assert "401" in line and "--api-key" in line
    assert project.runs() == []


def test_serve_refuses_bad_requests(invoke, planted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "unknown engine 'tgi'" in _one_line(invoke("serve", str(planted), "--engine", "tgi"))
    assert "--api-key" in _one_line(invoke("serve", str(planted), "--host", "0.0.0.0"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "pick another --port" in _one_line(invoke("serve", str(planted), "--port",
                                                         str(port)))


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None,
                    reason="vLLM is installed here: the refusal does not apply")
def test_vllm_missing_is_one_line_saying_how_to_install(invoke, planted):
    assert "own environment" in _one_line(invoke("serve", str(planted), "--engine", "vllm"))


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                    reason="vLLM is not installed in this environment (it needs its own)")
def test_vllm_serves_the_model(planted, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    process = start_serve([str(planted), "--engine", "vllm", "--port", str(port)], url,
                          tmp_path / "vllm.log", timeout=600)
    try:
        reply = json.loads(_post(f"{url}/chat/completions", {
            "model": str(planted), "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 8, "temperature": 0}, key=None))
        assert reply["choices"][0]["message"]["content"]
    finally:
        stop_serve(process)


def test_bench_serve_measures_a_served_model_beside_an_endpoint(server, project, invoke,
                                                                tmp_path):
    _configure(project, server["model"])
    import_records(project, make_records(20))
    result = invoke("bench", "serve", server["model"], "--compare", server["url"],
                    "--api-key", KEY, "--concurrency", "1,2", "--requests", "4",
                    "--max-tokens", "8", "--price-per-hour", "2.0", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["model"], r["concurrency"]) for r in rows] == [
        (server["model"], 1), (server["model"], 2), (server["url"], 1), (server["url"], 2)]
    for row in rows:
        assert row["requests"] == 4 and row["failed"] == 0 and row["tokens_per_s"] > 0
        assert 0 < row["ttft_p50_ms"] <= row["ttft_p95_ms"] <= row["ttft_p99_ms"]
        assert row["cost_per_m_tokens"] == pytest.approx(
            2.0 / (row["tokens_per_s"] * 3600) * 1e6, rel=1e-2)
    direct = rows[0]  # the engine streams token by token; the scrubbing proxy per message
    assert direct["itl_p50_ms"] > 0 and rows[2]["itl_p50_ms"] is None
    (run,) = [r for r in project.runs() if r.kind == "bench-serve"]
    report = invoke("report", str(run.id), "--html", str(tmp_path / "r.html"))
    assert report.exit_code == 0, report.output
    page = (tmp_path / "r.html").read_text()
    assert "Serving: latency and cost under load" in page and "data:image/png" in page


def test_bench_serve_refuses_a_remote_url_and_bad_bounds(project, invoke):
    assert "loopback" in _one_line(invoke("bench", "serve", "http://10.1.2.3:8000/v1"))
    assert "--concurrency" in _one_line(invoke("bench", "serve", "http://127.0.0.1:1/v1",
                                               "--concurrency", "0"))
    assert project.runs() == []


def test_ctrl_c_stops_the_engine_with_the_server(server):
    assert stop_serve(server["process"]) == 0
    assert "stopped" in server["log"].read_text()
    engines = [p for p in Path("/proc").iterdir() if p.name.isdigit()
               and _cmdline(p).count(server["model"]) and "transformers" in _cmdline(p)]
    assert engines == []


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
