"""The scrubber's API: tiers, operators, records, reports, allow-list, custom and plugin
recognizers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ftp import hookimpl
from ftp.errors import ConfigError
from ftp.privacy import build_scrubber

TEXT = ("Contact Dear Ana Lima at ana.lima@example.com or (415) 555-0132, SSN 219-09-9999, "
        "card 4111 1111 1111 1111, IBAN DE89370400440532013000, from 192.168.1.20.")


def scrubber(**settings):
    return build_scrubber(settings, secret=b"test-secret")


def test_patterns_tier_replaces_structured_pii_with_placeholders():
    out = scrubber().scrub_text(TEXT)
    for value in ("ana.lima@example.com", "555-0132", "219-09-9999", "4111 1111",
                  "DE89370400440532013000", "192.168.1.20"):
        assert value not in out
    for placeholder in ("<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<US_SSN>", "<CREDIT_CARD>",
                        "<IBAN_CODE>", "<IP_ADDRESS>"):
        assert placeholder in out


def test_patterns_tier_never_loads_a_spacy_model():
    code = (
        "from ftp.offline import go_offline; go_offline()\n"
        "import spacy\n"
        "def refuse(*a, **k): raise SystemExit('spacy.load called')\n"
        "spacy.load = refuse\n"
        "from ftp.privacy import build_scrubber\n"
        "s = build_scrubber({'tier': 'patterns'}, secret=b'k')\n"
        "print(s.scrub_text('mail a@b.com'))\n"
        "import sys; assert not [m for m in sys.modules if 'core_web' in m]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<EMAIL_ADDRESS>" in done.stdout


def test_pseudonyms_are_consistent_realistic_and_keyed_by_the_secret():
    one = scrubber(operators={"EMAIL_ADDRESS": "pseudonym"})
    a, b = one.scrub_texts(["write to jo@corp.com", "cc jo@corp.com and x@y.org"])
    fake = a.split()[-1]
    assert "@" in fake and fake != "jo@corp.com"
    assert fake in b and b.count("@") == 2
    other = build_scrubber({"operators": {"EMAIL_ADDRESS": "pseudonym"}}, secret=b"another")
    assert other.scrub_text("write to jo@corp.com").split()[-1] != fake


def test_hash_mask_and_keep_operators():
    s = scrubber(operators={"US_SSN": "hash", "CREDIT_CARD": "mask", "IP_ADDRESS": "keep"})
    out = s.scrub_text("SSN 219-09-9999 card 4111111111111111 ip 10.0.0.7")
    assert "<US_SSN:" in out and "219-09-9999" not in out
    assert "************1111" in out
    assert "10.0.0.7" in out
    assert s.report()["entities"]["IP_ADDRESS"] == 1  # kept values are still reported
    again = scrubber(operators={"US_SSN": "hash"}).scrub_text("SSN 219-09-9999")
    assert again.split()[-1] == out.split()[1]


def test_records_keep_order_scrub_chat_content_and_report_per_field():
    s = scrubber(operators={"CREDIT_CARD": "drop"})
    records = [
        {"instruction": "email bo@x.org", "output": "ok", "n": 3},
        {"messages": [{"role": "user", "content": "my ip is 10.1.2.3"},
                      {"role": "assistant", "content": "noted"}]},
        {"instruction": "card 4111111111111111"},
        {"instruction": "no pii"},
    ]
    out = list(s.scrub_records(records))
    assert out[0] == {"instruction": "email <EMAIL_ADDRESS>", "output": "ok", "n": 3}
    assert out[1]["messages"][0] == {"role": "user", "content": "my ip is <IP_ADDRESS>"}
    assert out[2] is None and out[3] == {"instruction": "no pii"}
    assert records[1]["messages"][0]["content"] == "my ip is 10.1.2.3"  # input untouched
    report = s.report()
    assert report["records"] == 4 and report["dropped"] == 1
    assert report["fields"] == {"instruction": {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1},
                                "messages": {"IP_ADDRESS": 1}}


def test_tool_calls_and_content_parts_are_scrubbed_too():
    record = {"format": "chat", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "mail ana@example.com"}]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
         "function": {"name": "lookup", "arguments": '{"ip": "10.1.2.3"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "owner: bo@x.org"}]}
    (out,) = scrubber().scrub_records([record])
    assert out["messages"][0]["content"][0] == {"type": "text", "text": "mail <EMAIL_ADDRESS>"}
    call = out["messages"][1]["tool_calls"][0]
    assert call["function"] == {"name": "lookup", "arguments": '{"ip": "<IP_ADDRESS>"}'}
    assert call["id"] == "call_1" and out["messages"][2]["content"] == "owner: <EMAIL_ADDRESS>"
    assert out["format"] == "chat" and out["messages"][2]["tool_call_id"] == "call_1"


def test_scrub_records_streams_lazily():
    seen = []

    def source():
        for i in range(1000):
            seen.append(i)
            yield {"text": f"row {i} mail u{i}@example.com"}

    stream = scrubber().scrub_records(source(), chunk_size=10)
    first = next(stream)
    assert first == {"text": "row 0 mail <EMAIL_ADDRESS>"}
    assert len(seen) <= 20


def test_fields_restrict_what_is_scrubbed():
    out = next(scrubber().scrub_records([{"a": "x@y.org", "b": "x@y.org"}], fields=["a"]))
    assert out == {"a": "<EMAIL_ADDRESS>", "b": "x@y.org"}


def test_allow_list_and_custom_patterns_from_config():
    s = scrubber(allow_list=["help@acme.com"], patterns={"EMPLOYEE_ID": r"EMP-\d{6}"})
    out = s.scrub_text("ask help@acme.com about EMP-123456 or bo@x.org")
    assert out == "ask help@acme.com about <EMPLOYEE_ID> or <EMAIL_ADDRESS>"


def test_entity_turned_off_is_left_alone_even_by_builtin_detectors():
    s = scrubber(entities=["EMAIL_ADDRESS"])
    assert s.scrub_text("call 001-555-555-0100 or bo@x.org") == \
        "call 001-555-555-0100 or <EMAIL_ADDRESS>"


def test_plugin_recognizers_come_through_the_hook(register_plugin):
    class TicketIds:
        @hookimpl
        def register_pii_detectors(self, register):
            from presidio_analyzer import Pattern, PatternRecognizer

            register("tickets", PatternRecognizer(
                supported_entity="TICKET_ID", patterns=[Pattern("t", r"TCK-\d{4}", 0.8)]))

    register_plugin(TicketIds(), "ticket-ids")
    assert scrubber().scrub_text("see TCK-1234") == "see <TICKET_ID>"


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="unknown operator"):
        scrubber(operators={"PERSON": "shred"})
    with pytest.raises(ConfigError, match="unknown privacy tier"):
        scrubber(tier="magic")
    with pytest.raises(ConfigError, match="bad regex"):
        scrubber(patterns={"X": "("})
    with pytest.raises(ConfigError, match="not installed"):
        scrubber(tier="ner", ner_model="no_such_spacy_model")


def test_worker_processes_give_the_same_findings_in_order():
    from ftp.privacy.corpus import generate

    texts = [sample["full_text"] for sample in generate(300, seed=2)]
    serial = scrubber(workers=1).analyze_texts(texts)
    forked = scrubber(workers=2)
    try:
        parallel = forked.analyze_texts(texts)
    finally:
        forked.close()

    def spans(found):
        return [[(r.entity_type, r.start, r.end) for r in doc] for doc in found]

    assert spans(parallel) == spans(serial)
    assert sum(map(len, serial)) > 300


def test_batch_analysis_equals_presidio_analyze_per_text():
    """The batched steps (NER pass, recognizers, lemma pipes and context enhancer only where
    they can change a score) give Presidio's findings *and scores*, text by text."""
    from ftp.privacy.corpus import generate
    from ftp.privacy.scrubber import resolve_overlaps

    texts = [sample["full_text"] for sample in generate(150, seed=7)]
    texts += ["Meeting notes: Ana Lima and Tom Berg opened an office in Lisbon.",
              "Please call the customer on her mobile number 0171 555 0199 today.",
              "SSN 219-09-9999 on file.", "", "  "]
    lean = scrubber(tier="ner", workers=1, allow_list=["Lisbon"])
    analyzer = lean.analyzer

    def found(results):
        return [(r.entity_type, r.start, r.end, round(r.score, 6)) for r in results]

    ours = [found(doc) for doc in lean.analyze_texts(texts)]
    theirs = [found(resolve_overlaps(analyzer.analyze(
        text=t, language="en", entities=lean._searched, score_threshold=lean.score_threshold,
        allow_list=["Lisbon"]))) if t.strip() else [] for t in texts]
    assert ours == theirs
    assert ("PHONE_NUMBER", 46, 59, 0.75) in ours[-4]  # boosted by "mobile", "number"
    assert "Lisbon" not in [texts[-5][start:end] for _, start, end, _ in ours[-5]]
    batch = lean._batch
    assert batch._two_pass
    assert sum(not batch._may_change(batch._recognize(t, None)) for t in texts[:150]) >= 20


def test_phone_matcher_skipping_impossible_candidates_finds_what_presidio_finds():
    """Random digit strings around each region's prefixes, extensions, plus signs and IDD
    prefixes: the skipping recognizer's results equal Presidio's PhoneRecognizer's."""
    import random

    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from ftp.privacy.phones import phone_recognizer, valid_digit_counts

    rng = random.Random(11)
    prefixes = ["", "1", "1-1-", "0", "00", "44 0", "49 0", "972 0", "91 0", "55 90 21 ",
                "180020", "011 44", "(0)", "+", "+44 (0)", "٠١"]
    texts = []
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 22)))
        step, sep = rng.randint(1, 5), rng.choice(["", " ", "-", "."])
        body = sep.join(digits[i:i + step] for i in range(0, len(digits), step))
        texts.append(f"tel {rng.choice(prefixes)} {body}{rng.choice(['', ' x12', '#', ' ~5'])}")

    def found(recognizer):
        return [sorted((r.start, r.end, r.score) for r in recognizer.analyze(t, ["PHONE_NUMBER"]))
                for t in texts]

    theirs = found(PhoneRecognizer())
    assert found(phone_recognizer()) == theirs
    assert sum(map(bool, theirs)) > 300
    assert valid_digit_counts("US") == (7, 13)  # NANPA: 10 digits (7 local), "1" stripped twice
