"""Synthetic data generators: ``template`` (slot filling), ``self-instruct``, ``evolve``.

A generator is ``generator(project, n=..., **options)`` yielding normalised records; the
``generate`` command tags them with the generator and model and imports them like any
other data (validated, scrubbed, deduplicated, split, versioned).
"""

from __future__ import annotations

import itertools
import json
import random
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftp import hookimpl
from ftp.api import Project
from ftp.errors import InputError, UserError


def load_spec(path: Path | str | None) -> dict[str, Any]:
    """A TOML or JSON spec: ``[slots]`` lists of values and ``[[templates]]`` of fields."""
    if path is None:
        raise UserError("the template generator needs a spec file", hint="pass --spec FILE")
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such spec file")
    text = path.read_text(encoding="utf-8")
    try:
        spec = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"cannot parse the spec: {error}", path=str(path)) from None
    slots, templates = spec.get("slots"), spec.get("templates")
    if not isinstance(slots, dict) or not all(isinstance(v, list) and v for v in
                                              slots.values()):
        raise InputError("[slots] must map each slot to a non-empty list", path=str(path))
    if not isinstance(templates, list) or not templates:
        raise InputError("[[templates]] must hold at least one template", path=str(path))
    return spec


def _render(env: Any, fields: dict[str, str], values: dict[str, Any]) -> dict[str, str]:
    return {key: env.from_string(text).render(**values) for key, text in fields.items()}


def template_generator(project: Project, n: int = 10, spec: Path | str | None = None,
                       seed: int = 0, **_: Any) -> Iterator[dict[str, Any]]:
    """Deterministic slot filling: Jinja fields filled with seeded draws of slot values.

    When ``n`` covers every combination they are all produced, in order; otherwise a seeded
    sample of distinct combinations.
    """
    import jinja2

    spec = load_spec(spec)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    names = sorted(spec["slots"])
    combos = [dict(zip(names, values, strict=True)) for values in
              itertools.product(*(spec["slots"][name] for name in names))]
    jobs = [(t, c) for t in range(len(spec["templates"])) for c in range(len(combos))]
    if n < len(jobs):
        jobs = sorted(random.Random(seed).sample(jobs, n))
    for template_index, combo_index in jobs:
        fields = spec["templates"][template_index]
        try:
            yield _render(env, fields, combos[combo_index])
        except jinja2.TemplateError as error:
            raise UserError(f"template {template_index + 1} in the spec: {error}") from None


def self_instruct_generator(project: Project, n: int = 10, **options: Any) -> Any:
    from ftp.plugins.data.synth import self_instruct

    return self_instruct(project, n=n, **options)


def evolve_generator(project: Project, n: int = 10, **options: Any) -> Any:
    from ftp.plugins.data.synth import evolve

    return evolve(project, n=n, **options)


@hookimpl
def register_generators(register) -> None:
    register("template", template_generator,
             description="slot filling from a spec file; no model, deterministic")
    register("self-instruct", self_instruct_generator,
             description="a local model writes new tasks from seed examples (Wang et al.)")
    register("evolve", evolve_generator,
             description="a local model rewrites instructions into harder ones (Evol-Instruct)")
