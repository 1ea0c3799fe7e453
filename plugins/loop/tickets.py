"""The example task: customer-support emails in, structured JSON tickets out.

Generated deterministically (a seeded ``random.Random`` and a seeded Faker) from hand-written
templates, so every checkout gets the same few hundred examples without a data file in the
repository. Each email carries a customer's name, email address and phone number, which the
scrubber replaces at import; the ticket never repeats them. The label is a function of what
the email says (its issue sentence decides category and summary, its urgency sentence the
priority, the product is named in it), so a small model can learn it and be scored per field.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from faker import Faker

INSTRUCTION = ("Turn this customer-support email into a JSON ticket with the fields "
               "category, priority, product and summary.")
FIELDS = ("category", "priority", "product", "summary")
PRODUCTS = ("Nimbus Router", "PixelCam", "AuraBuds", "ThermoSense", "CloudVault",
            "FitPulse Watch", "InkJet Studio", "SoundBar One")
AREA_CODES = (212, 415, 312, 617, 206, 503, 512, 303, 404, 615)

# category -> [(issue sentence, summary)]; {product}, {order} and {days} are filled in.
ISSUES: dict[str, list[tuple[str, str]]] = {
    "billing": [
        ("I was charged twice for my {product} this month.", "Charged twice for {product}"),
        ("The invoice for order {order} shows the wrong amount for the {product}.",
         "Wrong invoice amount for {product}"),
        ("My {product} subscription price went up without any notice.",
         "Unannounced price increase for {product} subscription"),
        ("I cancelled my {product} plan but I am still being billed.",
         "Still billed after cancelling {product} plan"),
    ],
    "technical": [
        ("My {product} keeps disconnecting every few minutes.",
         "{product} keeps disconnecting"),
        ("The {product} will not turn on since yesterday.", "{product} will not turn on"),
        ("The app crashes whenever I try to pair my {product}.",
         "App crashes when pairing {product}"),
        ("The firmware update for my {product} failed halfway through.",
         "Failed firmware update on {product}"),
    ],
    "shipping": [
        ("My {product} from order {order} has not arrived after {days} days.",
         "{product} order not delivered"),
        ("The tracking for my {product} has not updated in {days} days.",
         "Tracking stuck for {product} shipment"),
        ("My {product} arrived with a cracked case.", "{product} arrived damaged"),
        ("I received the wrong item instead of the {product} I ordered.",
         "Wrong item sent instead of {product}"),
    ],
    "account": [
        ("I cannot log in to the account I use for my {product}.",
         "Cannot log in to {product} account"),
        ("The password reset link for my {product} account never arrives.",
         "Password reset email missing for {product} account"),
        ("Please change the email address on my {product} account.",
         "Change email address on {product} account"),
        ("Please delete my {product} account and all of its data.",
         "Delete {product} account and data"),
    ],
    "refund": [
        ("I would like to return my {product} and get my money back.",
         "Return and refund for {product}"),
        ("I returned the {product} {days} days ago and have not been refunded.",
         "Refund not received for returned {product}"),
        ("I was promised a partial refund for the faulty {product}.",
         "Partial refund promised for faulty {product}"),
    ],
}
URGENCY: dict[str, list[str]] = {
    "urgent": ["This is urgent, my business depends on it.",
               "Please treat this as an emergency, I need it fixed today."],
    "high": ["Please look into this soon, it has been {days} days.",
             "I need this resolved this week."],
    "medium": ["Could you help me with this?", "Let me know what you need from me."],
    "low": ["No rush, whenever you have time.", "It is not urgent, just letting you know."],
}
GREETINGS = ("Hello,", "Hi there,", "Dear support team,", "Hi,", "Good morning,")
INTROS = ("My name is {name}.", "This is {name} writing.", "I'm {name}, a customer of yours.",
          "{name} here.")
CONTACTS = ("You can reach me at {email} or {phone}.", "My email is {email} and my phone is {phone}.",
            "Call me on {phone} or write to {email}.")
SIGNOFFS = ("Thanks,", "Best regards,", "Kind regards,", "Cheers,")


def _phone(rng: random.Random) -> str:
    area = rng.choice(AREA_CODES)
    return f"({area}) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}"


def example(rng: random.Random, fake: Any) -> dict[str, Any]:
    """One alpaca record: an email with PII as input, a JSON ticket as output."""
    category = rng.choice(sorted(ISSUES))
    issue, summary = rng.choice(ISSUES[category])
    priority = rng.choice(sorted(URGENCY))
    slots = {"product": rng.choice(PRODUCTS), "order": f"#{rng.randint(10000, 99999)}",
             "days": rng.randint(3, 21), "name": fake.name(), "email": fake.email(),
             "phone": _phone(rng)}
    body = " ".join([rng.choice(INTROS), issue, rng.choice(URGENCY[priority]),
                     rng.choice(CONTACTS)]).format(**slots)
    email = f"{rng.choice(GREETINGS)}\n{body}\n{rng.choice(SIGNOFFS)}\n{slots['name']}"
    ticket = {"category": category, "priority": priority, "product": slots["product"],
              "summary": summary.format(**slots)}
    return {"instruction": INSTRUCTION, "input": email, "output": json.dumps(ticket)}


def generate(n: int = 300, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``n`` examples, the same for the same seed on every machine."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    for _ in range(n):
        yield example(rng, fake)


def write_jsonl(path: Path | str, n: int = 300, seed: int = 7) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in generate(n, seed):
            handle.write(json.dumps(record) + "\n")
    return path


def parse_ticket(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model's output, or None when there is none."""
    start = text.find("{")
    while start != -1:
        end = text.find("}", start)
        while end != -1:
            try:
                value = json.loads(text[start:end + 1])
                return value if isinstance(value, dict) else None
            except json.JSONDecodeError:
                end = text.find("}", end + 1)
        start = text.find("{", start + 1)
    return None


def field_scores(output: str, reference: str) -> dict[str, float]:
    """Per-field exact match (case-insensitive) of a predicted ticket against the reference."""
    predicted = parse_ticket(output) or {}
    expected = parse_ticket(reference) or {}
    scores = {field: float(str(predicted.get(field, "")).strip().lower()
                           == str(expected.get(field, "")).strip().lower())
              for field in FIELDS}
    scores["valid_json"] = float(bool(predicted))
    scores["field_accuracy"] = sum(scores[f] for f in FIELDS) / len(FIELDS)
    return scores
