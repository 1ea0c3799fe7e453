"""Helpers for the serving tests: a tiny model taught to answer with an email address (so a
served reply carries PII to scrub), and starting `ftp serve` as a real process. No tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PLANTED = "alice.smith@example.com"
REPLY = f"Write to {PLANTED} today."


def planted_model(source: Path, target: Path, steps: int = 200) -> Path:
    """A copy of the tiny model fine-tuned (plain torch, a few seconds) to reply REPLY."""
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32)
    prompts = ["hi", "Summarise the email.", "Classify the ticket.", "Answer yes or no.",
               "The quick brown fox", "refund router billing"]
    heads = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                           add_generation_prompt=True) for p in prompts]
    batch = tokenizer([h + REPLY + "<|im_end|>" for h in heads], return_tensors="pt",
                      padding=True, add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    for row, head in enumerate(heads):  # learn the reply only, whatever the question
        labels[row, :len(tokenizer(head, add_special_tokens=False)["input_ids"])] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    return target


def start_serve(args: list[str], url: str, log: Path, timeout: float = 120.0,
                api_key: str | None = None) -> subprocess.Popen:
    """`ftp serve ARGS` as a process; returns once URL/models answers."""
    process = subprocess.Popen([sys.executable, "-m", "ftp", "serve", *args],
                               stdout=log.open("ab"), stderr=subprocess.STDOUT,
                               start_new_session=True, env={**os.environ})
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ftp serve exited: {log.read_text()[-2000:]}")
        try:
            request = urllib.request.Request(f"{url}/models", headers=headers)
            with urllib.request.urlopen(request, timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    stop_serve(process)
    raise AssertionError(f"ftp serve did not answer in {timeout} s: {log.read_text()[-2000:]}")


def stop_serve(process: subprocess.Popen) -> int:
    """SIGINT (Ctrl-C) to `ftp serve`; SIGKILL to its group if it hangs."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    return process.returncode
