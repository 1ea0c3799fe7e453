"""`ftp eval http://HOST:PORT/v1 --model-name M`: evaluate a running OpenAI-compatible server.

The test set goes through ``/chat/completions`` with the messages the in-process evaluator
renders with the model's chat template (the server applies its own copy of that template,
which is what a parity gate checks), greedy, with the same ``max_new_tokens``; outputs are
stripped, scored, scrubbed and categorised exactly as in-process. Benchmarks go through
lm-eval's ``local-completions`` model, which needs prompt log-probabilities: the server is
probed first and refused (exit 2, nothing stored) when it does not return them. The run is
stored like any eval run, with the same pinned settings, so ``--baseline`` and gates work.
"""

from __future__ import annotations

import concurrent.futures
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ftp.api import Project, RunRecord
from ftp.errors import UserError
from ftp.plugins.evaluation import metrics
from ftp.progress import info

TIMEOUT = 600.0


def is_endpoint(ref: str | None) -> bool:
    return bool(ref) and str(ref).startswith(("http://", "https://"))


class Client:
    """A minimal OpenAI-compatible client on urllib (loopback by the offline guard)."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def get(self, path: str, timeout: float = 10.0) -> Any:
        request = urllib.request.Request(self.base_url + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.load(reply)

    def post(self, path: str, body: dict[str, Any], timeout: float = TIMEOUT) -> Any:
        request = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(),
                                         headers=self.headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.load(reply)


def connect(url: str, model_name: str | None, api_key: str | None) -> tuple[Client, str]:
    """The client and the model name, or exit 2 (one line) when the server can't be used."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{url}: not an endpoint URL; give http://HOST:PORT/v1")
    client = Client(url, api_key)
    try:
        listed = client.get("/models")
    except urllib.error.HTTPError as error:
        raise UserError(f"{url}/models answered HTTP {error.code}"
                        + ("; give the server's key with --api-key" if error.code in (401, 403)
                           else "; is this an OpenAI-compatible server?")) from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise UserError(f"cannot reach {url} ({reason}); start a server (`ftp serve RUN`) "
                        "or check the URL") from None
    names = [m.get("id") for m in (listed.get("data") or []) if isinstance(m, dict)]
    if model_name is None:
        if not names:
            raise UserError(f"{url} lists no model; name one with --model-name")
        model_name = str(names[0])
    return client, model_name


def check_logprobs(client: Client, model_name: str) -> None:
    """Benchmarks score prompt log-likelihoods: the server must echo the prompt with
    per-token log-probabilities (vLLM does; transformers serve ignores echo/logprobs)."""
    try:
        reply = client.post("/completions", {"model": model_name, "prompt": "The sky is blue",
                                             "max_tokens": 1, "echo": True, "logprobs": 1,
                                             "temperature": 0}, timeout=60)
        logprobs = ((reply.get("choices") or [{}])[0].get("logprobs") or {})
        values = logprobs.get("token_logprobs") or []
    except (OSError, ValueError, AttributeError):
        values = []
    if len(values) < 2:
        raise UserError(f"{client.base_url} does not return prompt log-probabilities "
                        "(completions with echo and logprobs), which benchmarks need; evaluate "
                        "--suite testset, or serve with vLLM")


def evaluate_endpoint(project: Project, url: str, suite: list[str], settings: Any, *,
                      model_name: str | None = None, api_key: str | None = None,
                      name: str | None = None, parent_id: int | None = None) -> Any:
    """Evaluate the model behind ``url`` on ``suite``; one stored eval run (a child of
    ``parent_id``, the train run served, where known)."""
    from ftp.plugins.evaluation.runner import EvalOutcome

    client, model_name = connect(url, model_name, api_key)
    benchmarks = [s for s in suite if s != "testset"]
    if benchmarks:
        check_logprobs(client, model_name)
    records = _test_records(project, settings) if "testset" in suite else []
    pinned = {**settings.pinned(), "evaluator": "testset"}
    config = {"suite": suite, "settings": settings.pinned(), "endpoint": url,
              "model_name": model_name}
    with project.run("eval", model=url, name=name, config=config, parent_id=parent_id) as run:
        results: list[dict[str, Any]] = []
        if records:
            results += _testset(project, run, client, model_name, records, settings, pinned)
        for benchmark in benchmarks:
            results += _benchmark(project, run, url, model_name, api_key, benchmark, settings)
        run.summary.update({f"{r['task']}/{r['metric']}": r["value"] for r in results
                            if "/" not in r["task"]})
    return EvalOutcome(project.store.get_run(run.id), results, [])


def _test_records(project: Project, settings: Any) -> list[dict[str, Any]]:
    from ftp.plugins.data.api import load_records

    template = (project.config.get("format") or {}).get("template", "chat_template")
    if template != "chat_template":
        raise UserError(f"[format] template = {template!r} renders raw prompts; an endpoint "
                        "is evaluated through chat messages (template = \"chat_template\")")
    records = load_records(project, split="test")
    if not records:
        raise UserError("the project has no test split to evaluate",
                        hint="import data with `ftp data import FILE` (test_fraction > 0)")
    return records[: settings.limit] if settings.limit else records


def _testset(project: Project, run: RunRecord, client: Client, model_name: str,
             records: list[dict[str, Any]], settings: Any, pinned: dict[str, Any]
             ) -> list[dict[str, Any]]:
    from ftp.plugins.data.api import format_of, to_messages
    from ftp.plugins.evaluation.job import EvalJob
    from ftp.plugins.evaluation.runner import prepare_samples

    ids = [str(r.get("id") or r.get("key_hash") or i) for i, r in enumerate(records)]
    conversations = [to_messages(r)[:-1] for r in records]
    info(f"testset: {len(records)} documents through {client.base_url}")
    with concurrent.futures.ThreadPoolExecutor(max(1, min(settings.batch_size, 16))) as pool:
        replies = list(pool.map(lambda m: _chat(client, model_name, m, settings),
                                conversations))
    samples = []
    for doc_id, record, messages, (output, used) in zip(ids, records, conversations, replies,
                                                         strict=True):
        reference = format_of(record).response(record)
        samples.append({"doc_id": doc_id, "prompt": json.dumps(messages, ensure_ascii=False),
                        "output": output, "reference": reference,
                        "scores": metrics.score(output, reference),
                        "meta": {"generated": True, "output_tokens": used,
                                 "max_new_tokens": settings.max_new_tokens,
                                 "endpoint": client.base_url}})
    job = EvalJob(client.base_url, settings, project, run)
    job.add_samples("testset", samples)
    rows = [{"task": "testset", **row, "model_hash": None, "config_hash": None,
             "settings": pinned} for row in metrics.aggregate([s["scores"] for s in samples])]
    stored = prepare_samples(job)
    with project.store.transaction():
        project.store.add_eval_results(run.id, rows)
        project.store.add_samples(run.id, stored)
    return rows


def _chat(client: Client, model_name: str, messages: list[dict[str, Any]], settings: Any
          ) -> tuple[str, int]:
    body = {"model": model_name, "messages": messages, "max_tokens": settings.max_new_tokens,
            "temperature": 0, "seed": settings.seed, "stream": False}
    try:
        reply = client.post("/chat/completions", body)
    except urllib.error.HTTPError as error:
        raise UserError(f"{client.base_url}/chat/completions answered HTTP {error.code}"
                        + (f" for model {model_name!r}; check --model-name"
                           if error.code in (400, 404) else "")) from None
    except OSError as error:
        raise UserError(f"{client.base_url} stopped answering ({error})") from None
    choice = (reply.get("choices") or [{}])[0]
    text = ((choice.get("message") or {}).get("content") or "").strip()
    used = (reply.get("usage") or {}).get("completion_tokens") or 0
    return text, int(used)


def _benchmark(project: Project, run: RunRecord, url: str, model_name: str, api_key: str | None,
               task: str, settings: Any) -> list[dict[str, Any]]:
    """One built-in benchmark (its local task folder, as in-process) through lm-eval's
    ``local-completions`` model. Log-likelihoods need the model's tokenizer: the model name
    when it is a local folder (what `ftp serve` and vLLM on a folder report)."""
    from pathlib import Path

    from lm_eval.models.openai_completions import LocalCompletionsAPI

    from ftp.plugins.evaluation import tasks
    from ftp.plugins.evaluation.benchmarks import result_rows, sample_row, simple_evaluate

    if not (Path(model_name) / "tokenizer_config.json").is_file():
        raise UserError(f"benchmarks through an endpoint need the model's tokenizer; the model "
                        f"name {model_name!r} is not a local model folder")
    if api_key:
        import os

        os.environ["OPENAI_API_KEY"] = api_key  # where lm-eval's API models read it
    lm = LocalCompletionsAPI(model=model_name, base_url=url.rstrip("/") + "/completions",
                             tokenizer_backend="huggingface", tokenizer=model_name,
                             num_concurrent=4, max_retries=1)
    info(f"{task}: through {url} (lm-eval local-completions)")
    folder = tasks.build([task])
    output = simple_evaluate(lm, folder.path, [task], settings)
    samples = [sample_row(s) for found in output.get("samples", {}).values() for s in found]
    pinned = {**settings.pinned(), "evaluator": task}
    rows = [{**row, "model_hash": None, "config_hash": None, "settings": pinned}
            for row in result_rows(output)]
    with project.store.transaction():
        project.store.add_eval_results(run.id, rows)
        project.store.add_samples(run.id, [{"task": task, **s} for s in samples])
    return rows
