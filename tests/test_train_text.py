"""Continued pre-training on raw domain documents: long texts are cut, never dropped."""

from __future__ import annotations

import json
import random

from ftp.plugins.models.loading import load_tokenizer
from ftp.plugins.training import data as train_data
from tests.test_train_support import write_config

MANUAL = ("The router restarts when the reset button is held for ten seconds. "
          "Billing tickets about a refund go to the billing team within one day. "
          "A high priority ticket gets an answer by email before the summary is written. ")


def _documents(n: int = 8) -> dict[str, str]:
    rng = random.Random(0)
    sentences = MANUAL.split(". ")
    return {f"doc{i}.txt": ". ".join(rng.choice(sentences) for _ in range(rng.randint(2, 40)))
            for i in range(n)}


def test_long_documents_are_chunked_and_trained_on(project, tiny_model, invoke):
    write_config(project, str(tiny_model), max_steps=4, batch_size=4, learning_rate=3e-3)
    with project.config_path.open("a") as handle:
        handle.write('[format]\nmax_length = 64\ntruncation = "drop"\n')
    project.__dict__.pop("config", None)
    folder = project.root / "manual"
    folder.mkdir()
    for name, text in _documents().items():
        (folder / name).write_text(text)
    assert invoke("-q", "data", "import", str(folder)).exit_code == 0

    tokenizer = load_tokenizer(tiny_model)
    docs = train_data.records(project, None, "train")
    assert docs and all(d["format"] == "text" for d in docs)
    chunks = train_data.encoded(project, docs, tokenizer, "train")
    assert all(1 < len(c["input_ids"]) <= 64 and c["labels"] == c["input_ids"] for c in chunks)
    whole = [tokenizer(d["text"], add_special_tokens=False)["input_ids"] for d in docs]
    assert max(len(ids) for ids in whole) > 64  # a document longer than max_length...
    assert sum(len(c["input_ids"]) for c in chunks) >= sum(len(ids) for ids in whole)
    joined = [t for c in chunks for t in c["input_ids"]]
    assert all(str(ids)[1:-1] in str(joined) for ids in whole)  # ...is kept whole, in order

    result = invoke("-q", "train", "--json", "--name", "cpt")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["summary"]["train_examples"] == len(chunks)
    losses = [m["value"] for m in project.store.metrics(run["id"], "loss")
              if m["split"] == "train"]
    assert losses[-1] < losses[0]
