"""Write a transformers causal LM (Llama, Mistral, Qwen2 families) as a GGUF file.

The layout is llama.cpp's (its ``convert_hf_to_gguf.py``), written with the ``gguf``
package: tensors renamed through ``gguf.get_tensor_name_map``, Q and K projections of
Llama-style models permuted the way llama.cpp's rotary embedding wants them (transformers'
GGUF loader undoes exactly this permutation, which is what makes a round trip exact),
norms and biases kept in float32, the rest in f16 or q8_0 (gguf's numpy quantiser).

The tokenizer goes into the metadata as a byte-level BPE (``tokenizer.ggml.model =
"gpt2"``): tokens, token types (control for special added tokens, user-defined for other
added tokens), merges, the pre-tokenizer name, the special token ids, the chat template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from ftp.api import Tokenizer
from ftp.errors import UserError

QUANTS = ("f16", "q8_0")
# model_type -> (GGUF architecture, permute Q/K for llama.cpp's rope layout)
FAMILIES = {"llama": ("llama", True), "mistral": ("llama", True), "qwen2": ("qwen2", False)}
_TOKEN_NORMAL, _TOKEN_CONTROL, _TOKEN_USER = 1, 3, 4


@dataclass(frozen=True)
class Written:
    path: Path
    architecture: str
    quant: str
    tensors: int
    bytes: int


def supported_message(model_type: str) -> str:
    return (f"GGUF export supports the Llama, Mistral and Qwen2 families "
            f"(model_type {', '.join(sorted(FAMILIES))}), not {model_type!r}")


def check_supported(config: Any) -> None:
    """Raise UserError for a model the writer (or transformers' reader) can't round-trip."""
    model_type = getattr(config, "model_type", None)
    if model_type not in FAMILIES:
        raise UserError(supported_message(str(model_type)),
                        hint="export a merged folder with --merged DIR instead")
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise UserError(f"GGUF export: rope scaling {rope.get('rope_type')!r} is not written "
                        "(transformers could not read it back)",
                        hint="export a merged folder with --merged DIR instead")


def write_gguf(model: Any, tokenizer: Tokenizer, path: Path, quant: str = "f16",
               name: str = "model") -> Written:
    """Write ``model`` (a merged transformers model) and ``tokenizer`` to ``path``."""
    if quant not in QUANTS:
        raise UserError(f"--quant must be one of {', '.join(QUANTS)}, not {quant!r}")
    config = model.config
    check_supported(config)
    arch, permute = FAMILIES[config.model_type]
    # transformers reads "llama" files whose general.name says mistral as Mistral
    label = f"mistral-{name}" if config.model_type == "mistral" else name
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    _write_config(writer, config, label, quant)
    _write_tokenizer(writer, tokenizer, config)
    count = _write_tensors(writer, model, arch, permute, quant)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Written(path, arch, quant, count, path.stat().st_size)


def _write_config(writer: gguf.GGUFWriter, config: Any, name: str, quant: str) -> None:
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(getattr(config, "num_key_value_heads", None) or heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", 10000.0)))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if quant == "q8_0"
                         else gguf.LlamaFileType.MOSTLY_F16)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _write_tokenizer(writer: gguf.GGUFWriter, tokenizer: Tokenizer, config: Any) -> None:
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    model = state.get("model") or {}
    if model.get("type") != "BPE" or not _byte_level(state):
        raise UserError("GGUF export supports byte-level BPE tokenizers (GPT-2 style, as "
                        "SmolLM2, Llama 3 and Qwen2 use); this tokenizer is "
                        f"{model.get('type')} without byte-level pre-tokenization",
                        hint="export a merged folder with --merged DIR instead")
    tokens, types = _vocabulary(tokenizer, config.vocab_size)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(state, config))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for token, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                       ("pad", writer.add_pad_token_id), ("unk", writer.add_unk_token_id)):
        token_id = getattr(tokenizer, f"{token}_token_id", None)
        if token_id is not None:
            add(int(token_id))
    writer.add_add_bos_token(_adds_bos(tokenizer))
    template = tokenizer.chat_template
    if isinstance(template, str) and template:
        writer.add_chat_template(template)


def _byte_level(state: dict[str, Any]) -> bool:
    return '"ByteLevel"' in json.dumps(state.get("pre_tokenizer"))


def _pre_tokenizer(state: dict[str, Any], config: Any) -> str:
    """llama.cpp's name for the split regex (transformers' reader maps it back)."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS

    text = json.dumps(state.get("pre_tokenizer"))
    for name in ("qwen2", "llama-bpe"):
        if json.dumps(GGUF_PRE_TOKENIZER_SPLITS[name])[1:-1] in text:
            return name
    if '"Split"' in text:
        raise UserError("GGUF export: the tokenizer splits text with a regex llama.cpp has no "
                        "name for", hint="export a merged folder with --merged DIR instead")
    return "gpt2"  # ByteLevel's own GPT-2 regex (SmolLM2, the tiny test model)


def _vocabulary(tokenizer: Tokenizer, vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens by id, padded to the model's vocabulary size, with llama.cpp's token types."""
    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for index in range(max(vocab_size, len(by_id))):
        token = by_id.get(index)
        if token is None:  # embedding rows past the tokenizer (padded vocabularies)
            tokens.append(f"[PAD{index}]")
            types.append(_TOKEN_USER)
            continue
        tokens.append(token)
        if index in added:
            types.append(_TOKEN_CONTROL if added[index].special else _TOKEN_USER)
        else:
            types.append(_TOKEN_NORMAL)
    return tokens, types


def _adds_bos(tokenizer: Tokenizer) -> bool:
    bos = tokenizer.bos_token_id
    if bos is None:
        return False
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0] == bos


def _write_tensors(writer: gguf.GGUFWriter, model: Any, arch: str, permute: bool,
                   quant: str) -> int:
    config = model.config
    names = gguf.get_tensor_name_map(_arch_enum(arch), config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    count = 0
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # transformers re-ties it when output.weight is absent
        stem, _, suffix = hf_name.rpartition(".")
        mapped = names.get_name(stem)
        if mapped is None:
            raise UserError(f"GGUF export: no GGUF name for tensor {hf_name}")
        data = tensor.detach().to("cpu").float().numpy()
        if permute and stem.endswith("self_attn.q_proj"):
            data = _permute(data, heads, heads)
        elif permute and stem.endswith("self_attn.k_proj"):
            data = _permute(data, heads, kv_heads)
        _add(writer, f"{mapped}.{suffix}", data, quant)
        count += 1
    return count


def _arch_enum(arch: str) -> gguf.MODEL_ARCH:
    return next(key for key, value in gguf.MODEL_ARCH_NAMES.items() if value == arch)


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int) -> np.ndarray:
    """llama.cpp's Q/K permutation (interleaved rotary halves); the inverse of
    transformers' ``LlamaTensorProcessor._reverse_permute_weights``."""
    if n_head_kv != n_head:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _add(writer: gguf.GGUFWriter, name: str, data: np.ndarray, quant: str) -> None:
    if data.ndim < 2:  # norms and biases: float32, as llama.cpp keeps them
        writer.add_tensor(name, data.astype(np.float32))
        return
    if quant == "q8_0" and data.shape[-1] % gguf.GGML_QUANT_SIZES[
            gguf.GGMLQuantizationType.Q8_0][0] == 0:
        packed = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(name, packed, raw_shape=packed.shape,
                          raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        return
    writer.add_tensor(name, data.astype(np.float16))
