"""Attention over packed examples that costs what the examples cost, not what the row costs.

A flat row holds a step's examples end to end. transformers would give it a dense
block-diagonal mask (from restarting ``position_ids``), so attention would pay for the whole
row squared. ``ftp_segments`` instead runs causal attention on each example's slice
(``cu_seq_lens_q``, the examples' cumulative lengths, as flash-attention takes them):
``torch.nn.attention.varlen`` on CUDA, one causal ``scaled_dot_product_attention`` per
example elsewhere (CPU's flash kernel needs no mask; in bf16 training, ``cpu_attention``'s
bf16 backward). Numbers equal padded attention's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.functional import scaled_dot_product_attention

from ftp.plugins.training import cpu_attention

NAME = "ftp_segments"
_registered = False


def segment_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                      dropout: float = 0.0, scaling: float | None = None, **kwargs: Any):
    """(batch 1, heads, tokens, dim) tensors → (1, tokens, heads, dim), per-example causal."""
    bounds = kwargs.get("cu_seq_lens_q")
    if bounds is None or key.shape[2] != query.shape[2]:  # not a packed batch: plain sdpa
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask,
                                      dropout=dropout, scaling=scaling, **kwargs)
    groups = query.shape[1] // key.shape[1]
    if query.is_cuda and query.shape[0] == 1:
        out = _varlen(query, key, value, bounds, scaling, groups)
        if out is not None:
            return out, None
    lengths = (bounds[1:] - bounds[:-1]).tolist()  # split, not slices: one cheap backward
    if cpu_attention.usable(query, dropout):
        return cpu_attention.segment_attention_bf16(query, key, value, lengths, scaling), None
    parts = [scaled_dot_product_attention(q, k, v, is_causal=True, scale=scaling,
                                          dropout_p=dropout, enable_gqa=groups > 1)
             .transpose(1, 2)
             for q, k, v in zip(*(t.split(lengths, dim=2) for t in (query, key, value)),
                                strict=True)]
    return torch.cat(parts, dim=1), None


def _varlen(query: Any, key: Any, value: Any, bounds: Any, scaling: float | None,
            groups: int):
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    cu = bounds.to(query.device, torch.int32)
    longest = int((bounds[1:] - bounds[:-1]).max())
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # (tokens, heads, dim)
    try:
        out = varlen_attn(q, k, v, cu, cu, longest, longest, scale=scaling,
                          window_size=(-1, 0), enable_gqa=groups > 1)
    except (RuntimeError, TypeError, ValueError, NotImplementedError):  # dtype, GPU, version
        return None
    return out.unsqueeze(0)


def _no_mask(*args: Any, **kwargs: Any) -> None:
    """Segment attention needs no mask: the examples' bounds travel as ``cu_seq_lens_q``."""
    return None


def register() -> str:
    """Make ``ftp_segments`` an attention implementation transformers accepts."""
    global _registered
    if not _registered:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface

        AttentionInterface.register(NAME, segment_attention)
        AttentionMaskInterface.register(NAME, _no_mask)
        _registered = True
    return NAME


def supports_segments(model: Any) -> bool:
    """True when the model routes attention through transformers' attention interface."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return bool(getattr(base, "_supports_attention_backend", False))
