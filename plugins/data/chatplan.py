"""A chat template rendered by concatenation where that is provably what Jinja does.

Jinja rendering was ~40% of ``encode_records`` on SmolLM2's tokenizer. A template that
treats message contents as opaque text (``opaque`` proves it on the syntax tree: a
content is only output, concatenated, stored in a variable used the same way, or tested
for being set or a string; no filter, comparison, call or method sees it, nor a whole
message) renders a conversation as static text that depends only on its shape, with the
contents spliced in. The shape: the roles in order and ``add_generation_prompt``, for
messages that are ``{"role", "content"}`` dicts with non-empty string contents (so a
truthiness test is true for the real content and the sentinel alike). Each shape is
rendered once with sentinel contents and split around them; its first renders are still
compared with Jinja, and any difference turns the plan off. Other templates and shapes
are rendered by Jinja, unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

CHECK = 4  # renders per shape compared with Jinja
SLOT = re.compile("\u2063FTP_SLOT(\\d+)\u2063")
ATTRIBUTE_TESTS = {"defined", "undefined", "none", "string", "mapping", "iterable",
                   "sequence", "number", "integer", "float", "boolean", "true", "false",
                   "callable"}  # constant for any non-empty string
MESSAGE_FILTERS = {"first", "last", "reverse", "list"}  # a message or messages again
COUNT_FILTERS = {"length", "count"}
MESSAGE_METHODS = {"items", "values", "keys", "get"}
NEIGHBOURS = {"previtem", "nextitem"}  # loop.previtem: a message, unnoticed by _bind
UNSAFE_BLOCKS = ("Macro", "CallBlock", "FilterBlock", "AssignBlock", "With", "Scope")
PASS_THROUGH = ("Add", "Concat", "CondExpr", "And", "Or")  # content in, content out


class NotOpaque(Exception):
    """The template may look into a content: render with Jinja."""


class _Taint:
    """Which names hold messages and which hold contents, and what an expression is."""

    def __init__(self) -> None:
        self.messages, self.contents = {"messages"}, set()

    def of(self, node: Any) -> str | None:
        """'message' (a message or a list of them), 'content', or None (safe)."""
        from jinja2 import nodes

        kind = type(node).__name__
        if isinstance(node, nodes.Name):
            return self._name(node.name)
        if isinstance(node, nodes.Getattr):
            return self._member(node, self.of(node.node), node.attr)
        if isinstance(node, nodes.Getitem):
            inner = self.of(node.node)
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if inner == "message" and not isinstance(key, str):
                return "message"  # messages[0], messages[1:], messages[i]
            return self._member(node, inner, key)
        if isinstance(node, nodes.Filter) and node.node is not None:
            return self._filter(node, self.of(node.node))
        if kind in PASS_THROUGH:
            parts = [self.of(child) for child in node.iter_child_nodes()]
            if "message" in parts:
                raise NotOpaque("a message is concatenated")
            return "content" if "content" in parts and not isinstance(
                node, nodes.CondExpr) or "content" in parts[1:] else None
        return None

    def _name(self, name: str) -> str | None:
        if name == "strftime_now":
            raise NotOpaque("the template reads the clock")
        return "message" if name in self.messages else (
            "content" if name in self.contents else None)

    def _member(self, node: Any, inner: str | None, key: Any) -> str | None:
        from jinja2 import nodes

        if inner == "content":
            raise NotOpaque("the template indexes a content or calls its methods")
        if key in NEIGHBOURS or (inner == "message" and key in MESSAGE_METHODS):
            raise NotOpaque(f"the template uses .{key}")
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) \
                and f"{node.node.name}.{key}" in self.contents:
            return "content"  # a namespace attribute set to a content
        return "content" if inner == "message" and key == "content" else None

    def _filter(self, node: Any, inner: str | None) -> str | None:
        if inner is None:
            return None
        if inner == "message" and node.name in COUNT_FILTERS:
            return None
        if inner == "message" and node.name in MESSAGE_FILTERS:
            return "message"
        raise NotOpaque(f"filter {node.name} sees a {inner}")


def opaque(source: str, environment: Any) -> bool:
    """Whether the template only passes message contents through (see module docstring)."""
    from jinja2 import nodes

    try:
        tree = environment.parse(source)
        taint = _Taint()
        for _ in range(3):  # names assigned from names assigned later: a fixpoint
            for node in tree.find_all((nodes.For, nodes.Assign)):
                _bind(taint, node)
        for block in UNSAFE_BLOCKS:
            for found in tree.find_all(getattr(nodes, block)):
                if not _generation_block(found):
                    raise NotOpaque(f"{block} blocks")
        _check(tree, None, taint)
    except NotOpaque:
        return False
    return True


def _bind(taint: _Taint, node: Any) -> None:
    from jinja2 import nodes

    value = node.iter if isinstance(node, nodes.For) else node.node
    kind = taint.of(value)
    if kind is None:
        return
    for target in [node.target, *node.target.find_all((nodes.Name, nodes.NSRef))]:
        if isinstance(target, nodes.Name):
            (taint.messages if kind == "message" else taint.contents).add(target.name)
        elif isinstance(target, nodes.NSRef):
            name = f"{target.name}.{target.attr}"
            (taint.messages if kind == "message" else taint.contents).add(name)
            if kind == "message":
                raise NotOpaque("a message stored in a namespace")


def _generation_block(node: Any) -> bool:
    """transformers' ``{% generation %}`` block outputs its body unchanged."""
    from jinja2 import nodes

    call = getattr(node, "call", None)
    return isinstance(node, nodes.CallBlock) and isinstance(call, nodes.Call) and \
        isinstance(call.node, nodes.ExtensionAttribute) and \
        call.node.name == "_generation_support" and not call.args


def _check(node: Any, parent: Any, taint: _Taint) -> None:
    """Every message or content expression sits where it cannot be looked into."""
    from jinja2 import nodes

    if isinstance(node, nodes.Const) and node.value == "content" and not (
            isinstance(parent, nodes.Getitem) and parent.arg is node):
        raise NotOpaque("the name 'content' used outside message['content']")
    stored = isinstance(node, nodes.Name) and node.ctx != "load"  # a target: see _bind
    kind = taint.of(node) if isinstance(node, nodes.Expr) and not stored else None
    if kind is not None and not _allowed(node, parent, kind):
        raise NotOpaque(f"a {kind} used in {type(parent).__name__}")
    for child in node.iter_child_nodes():
        _check(child, node, taint)


def _allowed(node: Any, parent: Any, kind: str) -> bool:
    from jinja2 import nodes

    if isinstance(parent, (nodes.Getattr, nodes.Getitem, nodes.Filter)) and \
            parent.node is node:
        return True  # judged by _Taint.of on the parent
    if isinstance(parent, nodes.Test):
        return parent.node is node and parent.name in ATTRIBUTE_TESTS and not (
            parent.args or parent.kwargs or parent.dyn_args or parent.dyn_kwargs)
    if isinstance(parent, (nodes.For, nodes.Assign)):
        return node is (parent.iter if isinstance(parent, nodes.For) else parent.node)
    if kind == "message":
        return False
    if isinstance(parent, (nodes.If, nodes.CondExpr)) and parent.test is node:
        return True  # true for every non-empty string
    return isinstance(parent, (nodes.Output, nodes.Not, *[getattr(nodes, name) for name
                                                            in PASS_THROUGH]))


class ChatRenderer:
    """``render(messages, add_generation_prompt)``: Jinja's text, by plan where proved."""

    def __init__(self, template: str, specials: tuple[tuple[str, str], ...]) -> None:
        from transformers.utils.chat_template_utils import _compile_jinja_template

        self.jinja = _compile_jinja_template(template)
        self.specials = dict(specials)
        self.enabled = opaque(template, self.jinja.environment)
        self.plans: dict[tuple, tuple[list[str], list[int]] | None] = {}
        self.checks: dict[tuple, int] = {}

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool = False
               ) -> str:
        shape = self._shape(messages, add_generation_prompt) if self.enabled else None
        plan = self._plan(shape) if shape is not None else None
        if plan is None:
            return self._jinja(messages, add_generation_prompt)
        statics, slots = plan
        parts = [statics[0]]
        for slot, static in zip(slots, statics[1:], strict=True):
            parts += (messages[slot]["content"], static)
        text = "".join(parts)
        if self.checks[shape] < CHECK:  # belt and braces: the first renders of each shape
            self.checks[shape] += 1
            if text != self._jinja(messages, add_generation_prompt):
                self.enabled = False
                return self._jinja(messages, add_generation_prompt)
        return text

    def _jinja(self, messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
        return self.jinja.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                 **self.specials)

    @staticmethod
    def _shape(messages: Any, add_generation_prompt: bool) -> tuple | None:
        roles = []
        for message in messages:
            if type(message) is not dict or len(message) != 2:
                return None
            role, content = message.get("role"), message.get("content")
            if type(role) is not str or type(content) is not str or not content:
                return None
            roles.append(role)
        return (bool(add_generation_prompt), *roles)

    def _plan(self, shape: tuple) -> tuple[list[str], list[int]] | None:
        if shape not in self.plans:
            marks = [{"role": role, "content": f"\u2063FTP_SLOT{n}\u2063"}
                     for n, role in enumerate(shape[1:])]
            try:
                pieces = SLOT.split(self._jinja(marks, shape[0]))
            except Exception:  # the template refuses this shape: Jinja raises it per record
                pieces = None
            self.plans[shape] = None if pieces is None else (
                pieces[0::2], [int(slot) for slot in pieces[1::2]])
            self.checks[shape] = 0
        return self.plans[shape]


@lru_cache(maxsize=8)
def chat_renderer(template: str, specials: tuple[tuple[str, str], ...]) -> ChatRenderer:
    return ChatRenderer(template, specials)
