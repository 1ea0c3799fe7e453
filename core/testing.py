"""A tiny model built from a config, with a local tokenizer, for fast tests and benchmarks.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on a few sentences, the
model a randomly initialised Llama of a few layers. The chat template is ChatML, the same
shape as SmolLM2-Instruct's, so formatting code paths are the real ones.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Below is an instruction that describes a task. Write a response that completes it.",
    "### Instruction:\n### Input:\n### Response:\n",
    "user assistant system tool: Summarise the email. Classify the ticket. Answer yes or no.",
    '{"category": "billing", "priority": "high", "product": "router", "summary": "refund"}',
    "0123456789 + - * / = ( ) [ ] { } < > , . ; : ! ? ' \" @ # $ % & _ | \\ ~ `",
    "Question: What is the capital of France? Answer: Paris. A B C D",
]


def build_tokenizer(path: Path | str, vocab_size: int = 512):
    """Train and save a byte-level BPE tokenizer with ChatML special tokens."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|im_start|>", eos_token="<|im_end|>",
        pad_token="<pad>", unk_token="<|endoftext|>", chat_template=CHATML_TEMPLATE,
    )
    fast.save_pretrained(str(path))
    return fast


def build_tiny_model(path: Path | str, *, layers: int = 2, hidden: int = 64,
                     seed: int = 0) -> Path:
    """Write a tiny Llama model and its tokenizer to ``path`` (reused if already there)."""
    path = Path(path)
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path
    tokenizer = build_tokenizer(path)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(path))
    return path
