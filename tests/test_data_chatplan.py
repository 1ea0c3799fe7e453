"""Chat templates rendered by concatenation only where that equals Jinja's rendering."""

from __future__ import annotations

import random

import pytest

from ftp.plugins.data.chatplan import ChatRenderer, opaque
from ftp.testing import CHATML_TEMPLATE

SMOL = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are helpful<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
MISTRAL = ("{{ bos_token }}{% for message in messages %}"
           "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
           "{{ raise_exception('roles must alternate') }}{% endif %}"
           "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
           "{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}")
SYSTEM_FIRST = ("{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
                "{% set rest = messages[1:] %}{% else %}{% set rest = messages %}{% endif %}"
                "{% if system is defined %}<<{{ system }}>>{% endif %}{% for m in rest %}"
                "{{ m.role ~ ': ' ~ m.content }}{% if m.content %};{% endif %}{% endfor %}")
NAMESPACE = ("{% set ns = namespace(last='') %}{% for m in messages %}"
             "{% set ns.last = m.content %}{% endfor %}[{{ ns.last }}]")
OPAQUE = [CHATML_TEMPLATE, SMOL, MISTRAL, SYSTEM_FIRST, NAMESPACE]
LOOKS_INSIDE = [
    "{% for m in messages %}{{ m['content'] | trim }}{% endfor %}",
    "{% for m in messages %}{{ m.content.strip() }}{% endfor %}",
    "{% for m in messages %}{% if m.content == 'x' %}X{% endif %}{{ m.content }}{% endfor %}",
    "{% for m in messages %}{% if '</think>' in m.content %}T{% endif %}{% endfor %}",
    "{{ messages | tojson }}",
    "{% for m in messages %}{{ m }}{% endfor %}",
    "{% for m in messages %}{{ m.get('content') }}{% endfor %}",
    "{% for m in messages %}{% set c = m.content %}{{ c[:10] }}{% endfor %}",
    "{% for m in messages %}{{ m.content }}{{ loop.previtem }}{% endfor %}",
    "{% for m in messages %}{% filter upper %}{{ m.content }}{% endfilter %}{% endfor %}",
    "{{ strftime_now('%d') }}{% for m in messages %}{{ m.content }}{% endfor %}",
    "{% for m in messages %}{{ m.content | length }}{% endfor %}",
    "{% set ns = namespace(s='') %}{% for m in messages %}{% set ns.s = ns.s + m.content %}"
    "{% endfor %}{{ ns.s | trim }}",
]
SPECIALS = (("bos_token", "<s>"), ("eos_token", "</s>"), ("pad_token", ""), ("unk_token", ""))
WORDS = ["hello", " ", "  ", "\n", "\t", "{{ x }}", "</think>", "<|im_end|>", "'", "é"]


def renderer(template: str) -> ChatRenderer:
    return ChatRenderer(template, SPECIALS)


@pytest.mark.parametrize("template", OPAQUE)
def test_opaque_templates_are_planned(template):
    assert renderer(template).enabled


@pytest.mark.parametrize("template", LOOKS_INSIDE)
def test_templates_that_look_into_contents_are_left_to_jinja(template):
    chat = renderer(template)
    assert not chat.enabled
    assert opaque(template, chat.jinja.environment) is False


def conversations(rng: random.Random, n: int) -> list[list[dict]]:
    found = []
    for _ in range(n):
        roles = ["system"] if rng.random() < 0.5 else []
        roles += ["user", "assistant"] * rng.randint(1, 3)
        found.append([{"role": role, "content": "".join(rng.choice(WORDS) for _ in range(
            rng.randint(0, 6)))} for role in roles])
    return found


@pytest.mark.parametrize("template", OPAQUE + LOOKS_INSIDE[:4])
def test_renders_equal_jinja_for_every_conversation(template):
    chat = renderer(template)
    for messages in conversations(random.Random(0), 300):
        for generation in (False, True):
            try:
                expected = chat._jinja(messages, generation)
            except Exception as error:  # the template refuses: so must the renderer
                with pytest.raises(type(error)):
                    chat.render(messages, generation)
                continue
            assert chat.render(messages, generation) == expected
    assert chat.enabled == (template in OPAQUE)
    if template in OPAQUE:
        assert any(chat.plans.values()), "no shape was planned"


def test_a_plan_that_disagrees_with_jinja_is_turned_off():
    chat = renderer(CHATML_TEMPLATE)
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    assert chat.render(messages) == chat._jinja(messages, False)
    shape = chat._shape(messages, False)
    statics, slots = chat.plans[shape]
    chat.plans[shape] = (["wrong"] + statics[1:], slots)
    assert chat.render(messages) == chat._jinja(messages, False)
    assert not chat.enabled


def test_messages_with_other_keys_or_empty_contents_take_jinja():
    chat = renderer(CHATML_TEMPLATE)
    odd = [[{"role": "user", "content": ""}],
           [{"role": "user", "content": "Hi", "name": "x"}],
           [{"role": "user", "content": ["a", "list"]}]]
    for messages in odd:
        assert chat._shape(messages, False) is None
    assert chat.render(odd[0]) == chat._jinja(odd[0], False)
