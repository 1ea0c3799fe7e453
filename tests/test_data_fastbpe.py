"""The cached piece encoder gives exactly the Rust tokenizer's ids, or steps aside."""

from __future__ import annotations

import random

import pytest

from ftp.plugins.data.fastbpe import piece_encoder
from ftp.plugins.data.tokenize import encode_texts

TEXTS = ["Héllo wörld  \n\n  tabs\t\tand 12345 numbers 3.14 ... 's 're it's \u00a0nbsp",
         "日本語テキスト emoji 🤖🤖 <|im_end|>x<|im_start|>user\nHi", "   leading",
         "trailing   ", "\n", "", "a  b", "<|im_start|><|im_end|>", " \r\n x", "I'LL don't"]


@pytest.fixture(scope="module")
def tok(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model))


def rust(tok, texts):
    return [e.ids for e in tok.backend_tokenizer.encode_batch(texts, add_special_tokens=False)]


def test_piece_encoder_equals_the_rust_tokenizer(tok):
    encoder = piece_encoder(tok)
    assert encoder is not None, "the tiny byte-level BPE tokenizer should take the fast path"
    texts = TEXTS * 3 + [" ".join(TEXTS)]
    assert encoder(texts) == rust(tok, texts)
    assert encode_texts(tok, texts) == rust(tok, texts)
    assert encoder.cache  # pieces were cached


def test_tokens_added_later_rebuild_the_encoder(tok):
    from transformers import AutoTokenizer

    fresh = AutoTokenizer.from_pretrained(tok.name_or_path)
    before = piece_encoder(fresh)
    fresh.add_special_tokens({"additional_special_tokens": ["<|tool|>"]})
    after = piece_encoder(fresh)
    assert after is not before
    texts = ["call <|tool|> now", "<|tool|>"]
    assert encode_texts(fresh, texts) == rust(fresh, texts)


def test_unsupported_shapes_keep_the_rust_path(tok):
    from tokenizers import normalizers
    from transformers import AutoTokenizer

    lowered = AutoTokenizer.from_pretrained(tok.name_or_path)
    lowered.backend_tokenizer.normalizer = normalizers.Lowercase()
    assert piece_encoder(lowered) is None
    assert encode_texts(lowered, ["HELLO There"]) == rust(lowered, ["HELLO There"])


def test_a_mismatch_found_by_the_check_disables_the_fast_path(tok):
    from transformers import AutoTokenizer

    fresh = AutoTokenizer.from_pretrained(tok.name_or_path)
    encoder = piece_encoder(fresh)
    encoder.cache["Hello"] = [0]  # corrupt: the sample check must catch it
    assert encoder(["Hello"]) is None and piece_encoder(fresh) is None
    assert encode_texts(fresh, ["Hello"]) == rust(fresh, ["Hello"])


def test_the_word_cache_equals_the_rust_tokenizer_on_whitespace_edge_cases(tok):
    """Words, single spaces and newlines take the word path; every other shape the regex."""
    rng = random.Random(0)
    atoms = ["hello", "World", "'s", "don't", "12", "3.14", ",", "...", "é", "日本", "🤖",
             " ", " ", " ", "\n", "\n", "\t", "\r", "\u00a0", "\u2009", "\x1c", "\u3000",
             "<|im_end|>", "'ll", "-"]
    texts = ["".join(rng.choice(atoms) for _ in range(rng.randint(0, 16))) for _ in range(3000)]
    texts += ["a\nb c\n d", "\nx", "x\n", "x\n\ny", " x", "x ", "\n \n", "a  b\nc"]
    encoder = piece_encoder(tok)
    assert encoder(texts) == rust(tok, texts)
    assert encoder.later and encoder.first, "the word caches were not used"
    assert encoder._words("a\tb") is None and encoder._words("a  b") is None
    assert encoder._words("a\n\nb") is None and encoder._words("a \nb") is None
    assert encoder._words("Hi there\n you") is not None
