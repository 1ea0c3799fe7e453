"""Formatters: a normalised record -> (prompt text, response text).

The prompt part carries no loss by default; the response part does. ``chat_template`` uses
the tokenizer's own template (``apply_chat_template``'s Jinja, compiled once and rendered
once per record, or by concatenation where ``chatplan`` proves that equal: the response is
marked by a sentinel, so the prompt is exactly what the model sees before it answers).
``alpaca`` and ``plain`` are named templates; any other name is a path to a user's Jinja
template, which may place ``{{ response }}`` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftp import hookimpl
from ftp.api import Tokenizer
from ftp.errors import UserError
from ftp.plugins.data.chatplan import ChatRenderer, chat_renderer
from ftp.plugins.data.formats import format_of

SENTINEL = "\u2063FTP_RESPONSE\u2063"
ALPACA_HEADER = ("Below is an instruction that describes a task. Write a response that "
                 "appropriately completes the request.\n\n")
ALPACA_HEADER_INPUT = ("Below is an instruction that describes a task, paired with an input "
                       "that provides further context. Write a response that appropriately "
                       "completes the request.\n\n")


def to_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Any non-text record as a conversation ending in the assistant's response."""
    fmt = record.get("format", "alpaca")
    if fmt == "chat":
        return record["messages"]
    prompt = format_of(record).prompt(record)
    return [{"role": "user", "content": prompt},
            {"role": "assistant", "content": format_of(record).response(record)}]


def _special_tokens(tokenizer: Tokenizer) -> dict[str, Any]:
    """Special token strings for templates (read once: tokenizer attributes are slow)."""
    key = (id(tokenizer), tokenizer.eos_token_id, tokenizer.bos_token_id)
    if _SPECIALS.get("key") != key:
        _SPECIALS["key"] = key
        _SPECIALS["value"] = {name: getattr(tokenizer, name) or "" for name in
                              ("bos_token", "eos_token", "pad_token", "unk_token")}
    return _SPECIALS["value"]


_SPECIALS: dict[str, Any] = {}


def _renderer(tokenizer: Tokenizer) -> ChatRenderer:
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise UserError("the tokenizer has no chat template",
                        hint="use template = \"alpaca\" or \"plain\" in [format]")
    return chat_renderer(template, tuple(sorted(_special_tokens(tokenizer).items())))


def render_chat(tokenizer: Tokenizer, messages: list[dict[str, Any]],
                add_generation_prompt: bool = False) -> str:
    """The tokenizer's chat template applied to ``messages`` (``apply_chat_template``'s text)."""
    return _renderer(tokenizer).render(messages, add_generation_prompt)


def chat_template(record: dict[str, Any], tokenizer: Tokenizer) -> tuple[str, str]:
    """(prompt, response): the last assistant turn, everything before it as the prompt."""
    segments = chat_segments(record, tokenizer)
    return "".join(segments[:-1]), segments[-1]


def chat_segments(record: dict[str, Any], tokenizer: Tokenizer) -> tuple[str, ...]:
    """(prompt, response, prompt, response, ...): every assistant turn is a response."""
    return ChatSegments(tokenizer)(record)


class ChatSegments:
    """``chat_segments`` bound to one tokenizer, whose template and tokens are read once.

    Each assistant turn with text is replaced by a numbered sentinel and the conversation
    rendered once; a response runs from its content to the end-of-turn token that follows
    (trained, so the model learns to stop), the rest is prompt. A template that rewrites
    contents (the sentinels do not come back once each, in order) is rendered twice
    instead, and only its last turn is trained.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.renderer = _renderer(tokenizer)
        self.eos = self.renderer.specials["eos_token"]

    def __call__(self, record: dict[str, Any], tokenizer: Tokenizer = None) -> tuple[str, ...]:
        if record.get("format") == "text":
            return "", record["text"]
        messages = [dict(m) for m in to_messages(record)]
        last = len(messages) - 1
        turns = [i for i, m in enumerate(messages) if i == last or (
            m.get("role") == "assistant" and isinstance(m.get("content"), str)
            and m["content"])]
        contents = [messages[i]["content"] for i in turns]
        marks = [f"{SENTINEL}{n}\u2063" for n in range(len(turns))]
        for i, mark in zip(turns, marks, strict=True):
            messages[i]["content"] = mark
        parts = _split_marks(self.renderer.render(messages), marks)
        if parts is None:
            return self._render_twice(messages, contents[-1])
        eos = self.eos
        segments = [parts[0]]
        for content, rest in zip(contents[:-1], parts[1:-1], strict=True):
            end = rest.find(eos) if eos else -1
            cut = end + len(eos) if end >= 0 and not rest[:end].strip() else 0
            segments += [content + rest[:cut], rest[cut:]]
        segments.append(self._trim(contents[-1] + parts[-1]))
        return tuple(segments)

    def _render_twice(self, messages: list[dict[str, Any]], response: str) -> tuple[str, str]:
        messages[-1]["content"] = response
        prompt = self.renderer.render(messages[:-1], add_generation_prompt=True)
        full = self.renderer.render(messages)
        return prompt, self._trim(full[len(prompt):] if full.startswith(prompt) else response)

    def _trim(self, response: str) -> str:
        """Drop what a template adds after the end-of-turn token (a newline, usually)."""
        stripped = response.rstrip()
        return stripped if self.eos and stripped.endswith(self.eos) else response


chat_template.prepare = ChatSegments  # type: ignore[attr-defined]


def _split_marks(text: str, marks: list[str]) -> list[str] | None:
    """Text around each mark, or None unless every mark occurs once, in order."""
    parts, rest = [], text
    for mark in marks:
        if text.count(mark) != 1 or mark not in rest:
            return None
        before, rest = rest.split(mark)
        parts.append(before)
    return parts + [rest]


def alpaca(record: dict[str, Any], tokenizer: Tokenizer) -> tuple[str, str]:
    if record.get("format") == "text":
        return "", record["text"]
    if record.get("format") == "alpaca":
        instruction, extra = record["instruction"], record.get("input") or ""
    else:
        instruction, extra = _last_user(record), ""
    if extra:
        prompt = (f"{ALPACA_HEADER_INPUT}### Instruction:\n{instruction}\n\n"
                  f"### Input:\n{extra}\n\n### Response:\n")
    else:
        prompt = f"{ALPACA_HEADER}### Instruction:\n{instruction}\n\n### Response:\n"
    return prompt, format_of(record).response(record)


def _last_user(record: dict[str, Any]) -> str:
    messages = to_messages(record)
    users = [m["content"] for m in messages[:-1] if m["role"] == "user"]
    return users[-1] if users else ""


def plain(record: dict[str, Any], tokenizer: Tokenizer) -> tuple[str, str]:
    if record.get("format") == "text":
        return "", record["text"]
    messages = to_messages(record)
    context = "\n".join(m["content"] for m in messages[:-1] if m["content"])
    return f"{context}\n", messages[-1]["content"]


class JinjaFile:
    """A user's Jinja template file; record fields (and ``messages``) are its variables.

    Rendered in Jinja's immutable sandbox (as transformers renders chat templates): a
    template in a project file is code, and the sandbox refuses attribute walks such as
    ``cycler.__init__.__globals__.os`` that would otherwise run a shell command.
    """

    def __init__(self, path: Path) -> None:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        if not path.is_file():
            raise UserError(f"template {path}: no such file",
                            hint="use chat_template, alpaca, plain, or a Jinja file path")
        try:
            self.template = ImmutableSandboxedEnvironment(keep_trailing_newline=True).from_string(
                path.read_text(encoding="utf-8"))
        except jinja2.TemplateSyntaxError as error:
            raise UserError(f"template {path}:{error.lineno}: {error.message}") from None
        self.path = path

    def __call__(self, record: dict[str, Any], tokenizer: Tokenizer) -> tuple[str, str]:
        response = format_of(record).response(record)
        values = {**record, "messages": to_messages(record), **_special_tokens(tokenizer)}
        text = self._render(values)
        if SENTINEL in text:
            prompt, rest = text.split(SENTINEL, 1)
            return prompt, response + rest.replace(SENTINEL, response)
        return text, response


    def _render(self, values: dict[str, Any]) -> str:
        from jinja2.exceptions import SecurityError, UndefinedError

        try:
            return self.template.render(**values, response=SENTINEL)
        except SecurityError as error:
            raise UserError(f"template {self.path}: refused by the sandbox ({error})",
                            hint="a template may read record fields, not Python internals"
                            ) from None
        except UndefinedError as error:
            raise UserError(f"template {self.path}: {error.message}") from None


BUILTIN = {
    "chat_template": (chat_template, "the tokenizer's own chat template (default)"),
    "alpaca": (alpaca, "the Stanford Alpaca instruction template"),
    "plain": (plain, "the prompt, a newline, the response"),
}


@hookimpl
def register_formatters(register) -> None:
    for name, (formatter, description) in BUILTIN.items():
        register(name, formatter, description=description)


def get_formatter(template: str | Any = "chat_template") -> Any:
    """A formatter by name (registered), a callable, or a path to a Jinja file."""
    if callable(template):
        return template
    if template in BUILTIN:
        return BUILTIN[template][0]
    from ftp.registry import collect

    registered = collect("formatters")
    if template in registered:
        return registered[template].obj
    if str(template).endswith((".jinja", ".j2", ".jinja2", ".txt")) or "/" in str(template):
        return JinjaFile(Path(template))
    raise UserError(f"unknown template {template!r}; known: {', '.join(registered)}, "
                    "or a path to a Jinja file")
