"""Record formats: detect a raw record's shape and normalise it.

Every stored record is one of five shapes, with a ``format`` key naming it:

- ``alpaca``: ``{instruction, input, output}``
- ``prompt_completion``: ``{prompt, completion}``
- ``chat``: ``{messages: [{role, content, tool_calls?, name?, tool_call_id?}]}``
- ``preference``: ``{prompt, chosen, rejected}`` (for DPO)
- ``text``: ``{text}`` (continued pre-training on documents)

``validate`` raises ``ValueError`` with the reason; the importer adds file and line.
"""

from __future__ import annotations

from typing import Any

from ftp import hookimpl

ROLES = ("system", "user", "assistant", "tool")
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "tool": "tool",
                  "user": "user", "assistant": "assistant", "function_call": "assistant",
                  "observation": "tool"}


def _text(record: dict[str, Any], field: str, *, required: bool = True) -> str:
    if field not in record or record[field] is None:
        if required:
            raise ValueError(f"missing field {field!r}")
        return ""
    value = record[field]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"field {field!r} must be text, got {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"empty field {field!r}")
    return value


class RecordFormat:
    """Base: ``fields`` are the record's text fields, ``required`` must all be present."""

    name = ""
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def detect(self, record: dict[str, Any]) -> bool:
        return all(field in record for field in self.required)

    def validate(self, record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.name}
        for field in self.required:
            out[field] = _text(record, field)
        for field in self.optional:
            out[field] = _text(record, field, required=False)
        return out

    def prompt(self, record: dict[str, Any]) -> str:
        """The text a split key and contamination checks are computed from."""
        return record[self.required[0]]

    def response(self, record: dict[str, Any]) -> str:
        return record[self.required[-1]]


class Alpaca(RecordFormat):
    name = "alpaca"
    required = ("instruction", "output")
    optional = ("input",)

    def validate(self, record: dict[str, Any]) -> dict[str, Any]:
        out = super().validate(record)
        return {"format": self.name, "instruction": out["instruction"],
                "input": out["input"], "output": out["output"]}

    def prompt(self, record: dict[str, Any]) -> str:
        extra = record.get("input") or ""
        return f"{record['instruction']}\n\n{extra}" if extra else record["instruction"]


class PromptCompletion(RecordFormat):
    name = "prompt_completion"
    required = ("prompt", "completion")


class Preference(RecordFormat):
    name = "preference"
    required = ("prompt", "chosen", "rejected")

    def response(self, record: dict[str, Any]) -> str:
        return record["chosen"]


class Text(RecordFormat):
    name = "text"
    required = ("text",)

    def prompt(self, record: dict[str, Any]) -> str:
        return ""


class Chat(RecordFormat):
    name = "chat"
    required = ("messages",)

    def detect(self, record: dict[str, Any]) -> bool:
        return "messages" in record or "conversations" in record

    def validate(self, record: dict[str, Any]) -> dict[str, Any]:
        raw = record.get("messages", record.get("conversations"))
        if not isinstance(raw, list) or not raw:
            raise ValueError("field 'messages' must be a non-empty list of messages")
        messages = [_message(i, m) for i, m in enumerate(raw, 1)]
        if messages[-1]["role"] != "assistant":
            raise ValueError("the last message must be the assistant's (the response to "
                             f"learn); it is {messages[-1]['role']!r}")
        if not (messages[-1]["content"].strip() or messages[-1].get("tool_calls")):
            raise ValueError("the last assistant message is empty")
        return {"format": self.name, "messages": messages}

    def prompt(self, record: dict[str, Any]) -> str:
        users = [m["content"] for m in record["messages"] if m["role"] == "user"]
        return users[0] if users else ""

    def response(self, record: dict[str, Any]) -> str:
        return record["messages"][-1]["content"]


def _message(position: int, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"message {position} must be an object with role and content")
    role = raw.get("role", raw.get("from"))
    role = SHAREGPT_ROLES.get(role, role) if "from" in raw and "role" not in raw else role
    if role not in ROLES:
        # the role's value is the record's text: named by its type, never quoted
        raise ValueError(f"message {position} has an unknown role ({type(role).__name__}); "
                         f"allowed: {', '.join(ROLES)}")
    content = raw.get("content", raw.get("value"))
    content = "" if content is None else content
    if not isinstance(content, str):
        raise ValueError(f"message {position} content must be text")
    message: dict[str, Any] = {"role": role, "content": content}
    if raw.get("tool_calls"):
        if role != "assistant" or not isinstance(raw["tool_calls"], list):
            raise ValueError(f"message {position}: tool_calls must be a list on an "
                             "assistant message")
        message["tool_calls"] = raw["tool_calls"]
    for key in ("name", "tool_call_id"):
        if raw.get(key):
            message[key] = str(raw[key])
    if not content.strip() and "tool_calls" not in message:
        raise ValueError(f"message {position} ({role}) is empty")
    return message


# Detection order matters: a preference record also has ``prompt``.
BUILTIN_FORMATS: tuple[RecordFormat, ...] = (
    Chat(), Preference(), Alpaca(), PromptCompletion(), Text(),
)


@hookimpl
def register_record_formats(register) -> None:
    descriptions = {
        "chat": "chat messages with roles (system, user, assistant, tool) and tool calls",
        "preference": "prompt with a chosen and a rejected response (DPO)",
        "alpaca": "instruction, optional input, output",
        "prompt_completion": "prompt and completion",
        "text": "raw text for continued pre-training",
    }
    for fmt in BUILTIN_FORMATS:
        register(fmt.name, fmt, description=descriptions[fmt.name])


def all_formats() -> dict[str, Any]:
    from ftp.registry import collect

    return {name: registered.obj for name, registered in collect("record_formats").items()}


def get_format(name: str) -> Any:
    from ftp.registry import get

    return get("record_formats", name)


def detect(record: dict[str, Any], formats: dict[str, Any]) -> str | None:
    """The first format whose ``detect`` accepts ``record``, or None."""
    for name, fmt in formats.items():
        if fmt.detect(record):
            return name
    return None


_BUILTIN = {fmt.name: fmt for fmt in BUILTIN_FORMATS}


def format_of(record: dict[str, Any]) -> Any:
    """The format object of a normalised (stored) record (built-ins without a registry call)."""
    name = record.get("format") or "alpaca"
    return _BUILTIN.get(name) or get_format(name)
