"""A faster lm-eval model: each context is computed once and all its choices scored from it.

lm-eval's ``HFLM`` scores every (context, choice) pair as its own sequence, so a 4-choice
question runs its context four times. ``FastLM`` packs a context and all its choices into
one row (a "prefix tree"): the context once, then each choice's tokens with positions that
continue from the context, and a 4D attention mask that lets a choice see the context and
its own earlier tokens only. Rows are sorted by length and batched, and the vocabulary
projection runs only on the positions whose log-probabilities are needed.

Tokenisation, truncation, greedy checks and generation are inherited from ``HFLM`` so the
numbers are the same as lm-eval's (to floating-point noise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from lm_eval.models.huggingface import HFLM

from ftp.progress import progress

Request = tuple[tuple[str, str] | None, list[int], list[int]]


@dataclass
class Tree:
    context: list[int]
    members: list[tuple[int, list[int]]] = field(default_factory=list)  # (request index, cont)

    @property
    def length(self) -> int:
        return len(self.context) + sum(len(cont) - 1 for _, cont in self.members)


class FastLM(HFLM):
    """``HFLM`` with prefix-shared, length-batched log-likelihood scoring."""

    def __init__(self, *args, max_batch_tokens: int = 16384, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_batch_tokens = max_batch_tokens

    def _loglikelihood_tokens(self, requests: list[Request], disable_tqdm: bool = False,
                              override_bs: int | None = None) -> list[tuple[float, bool]]:
        if self.backend != "causal" or not self._custom_masks_supported():
            return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        trees, long = self._trees(requests)
        if long:  # too long for one row: lm-eval's own left-truncating path
            answers = super()._loglikelihood_tokens([requests[i] for i in long], True, override_bs)
            for index, answer in zip(long, answers, strict=True):
                results[index] = answer
        batches = self._batches(trees, override_bs)
        for batch in progress(batches, total=len(batches), desc="scoring", unit="batch"):
            for index, answer in self._score(batch):
                results[index] = answer
        for request, answer in zip(requests, results, strict=True):
            if request[0] is not None:
                self.cache_hook.add_partial("loglikelihood", request[0], answer)
        return results  # type: ignore[return-value]

    def _custom_masks_supported(self) -> bool:
        implementation = getattr(self.model.config, "_attn_implementation", "eager")
        return implementation in ("sdpa", "eager")

    def _trees(self, requests: list[Request]) -> tuple[list[Tree], list[int]]:
        trees: dict[tuple[int, ...], Tree] = {}
        long = []
        for index, (_, context, continuation) in enumerate(requests):
            if len(context) + len(continuation) > self.max_length + 1:
                long.append(index)
                continue
            tree = trees.setdefault(tuple(context), Tree(list(context)))
            tree.members.append((index, list(continuation)))
        split: list[Tree] = []
        for tree in trees.values():
            split.extend(self._fit(tree))
        return split, long

    def _fit(self, tree: Tree) -> list[Tree]:
        """Split a tree whose choices together exceed the model's length into several."""
        if tree.length <= self.max_length:
            return [tree]
        parts, current = [], Tree(tree.context)
        for member in tree.members:
            if current.members and current.length + len(member[1]) - 1 > self.max_length:
                parts.append(current)
                current = Tree(tree.context)
            current.members.append(member)
        return [*parts, current]

    def _batches(self, trees: list[Tree], override_bs: int | None) -> list[list[Tree]]:
        size = override_bs or (self.batch_size if isinstance(self.batch_size, int) else 64)
        batches: list[list[Tree]] = []
        for tree in sorted(trees, key=lambda t: -t.length):
            batch = batches[-1] if batches else None
            if batch and len(batch) < size and \
                    (len(batch) + 1) * batch[0].length <= self.max_batch_tokens:
                batch.append(tree)
            else:
                batches.append([tree])
        return batches

    def _score(self, batch: Sequence[Tree]) -> list[tuple[int, tuple[float, bool]]]:
        width = batch[0].length
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        positions = torch.zeros(len(batch), width, dtype=torch.long)
        segments = torch.full((len(batch), width), -1, dtype=torch.long)
        targets = []  # per row: (request index, positions scored, token ids)
        for row, tree in enumerate(batch):
            targets.append(_layout(tree, ids[row], positions[row], segments[row]))
        first = min(t[1][0] for row in targets for t in row)
        logits = self._forward(ids, positions, segments, first)
        logprobs = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)
        answers = []
        for row, members in enumerate(targets):
            for index, where, tokens in members:
                scores = logprobs[row, torch.tensor(where) - first]
                token_ids = torch.tensor(tokens)
                greedy = bool((scores.argmax(dim=-1) == token_ids).all())
                total = float(scores.gather(1, token_ids[:, None]).sum())
                answers.append((index, (total, greedy)))
        return answers

    @torch.no_grad()
    def _forward(self, ids: torch.Tensor, positions: torch.Tensor, segments: torch.Tensor,
                 first: int) -> torch.Tensor:
        mask = _tree_mask(segments)
        if getattr(self.model.config, "_attn_implementation", "eager") != "sdpa":
            dtype = next(self.model.parameters()).dtype
            mask = torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, torch.finfo(dtype).min)
        keep = torch.arange(first, ids.shape[1])
        output = self.model(input_ids=ids.to(self.device), position_ids=positions.to(self.device),
                            attention_mask=mask.to(self.device), use_cache=False,
                            logits_to_keep=keep.to(self.device))
        return output.logits.float() if self.softmax_dtype is None else output.logits


def _layout(tree: Tree, ids: torch.Tensor, positions: torch.Tensor,
            segments: torch.Tensor) -> list[tuple[int, list[int], list[int]]]:
    """Write one tree into a row; return, per choice, the positions whose logits score it."""
    length = len(tree.context)
    ids[:length] = torch.tensor(tree.context)
    positions[:length] = torch.arange(length)
    segments[:length] = 0
    cursor, scored = length, []
    for segment, (index, continuation) in enumerate(tree.members, start=1):
        inner = continuation[:-1]
        span = slice(cursor, cursor + len(inner))
        ids[span] = torch.tensor(inner, dtype=torch.long)
        positions[span] = torch.arange(length, length + len(inner))
        segments[span] = segment
        scored.append((index, [length - 1, *range(cursor, cursor + len(inner))], continuation))
        cursor += len(inner)
    return scored


def _tree_mask(segments: torch.Tensor) -> torch.Tensor:
    """[B, 1, T, T] booleans: causal, and a choice sees only the context and itself."""
    width = segments.shape[1]
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    query, key = segments[:, :, None], segments[:, None, :]
    allowed = causal & ((key == 0) | (key == query)) & (query >= 0) & (key >= 0)
    allowed |= torch.eye(width, dtype=torch.bool)  # padding rows attend to themselves
    return allowed[:, None]
