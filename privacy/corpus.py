"""A labelled PII corpus generated with Faker: instruction-style snippets with character spans.

Seeded, so the same seed gives the same corpus. Written in presidio-research's JSON format
(``full_text``, ``masked``, ``spans`` with ``entity_type``, ``entity_value``,
``start_position``, ``end_position``), which ``ftp scrub --evaluate`` also reads.
Snippets mix several locales' names, numbers and addresses, chat turns, e-mails, support
tickets and forms, and some hold no PII at all (for precision) or allow-listed terms.
"""

from __future__ import annotations

import random
import re
from typing import Any

from faker import Faker

ALLOW_TERMS = ("Acme Cloud", "Jordan Router X2", "Support Bot", "Paris Plan")

_TEMPLATES = (
    "Summarise this email: Hi team, {PERSON} here. Please reach me at {EMAIL_ADDRESS} or "
    "{PHONE_NUMBER} before Friday.",
    "user: my card {CREDIT_CARD} was charged twice, can you refund it?\nassistant: I'm sorry "
    "to hear that. I have opened a ticket.",
    "Ticket #{N}: Customer {PERSON} reports that login fails from IP {IP_ADDRESS}. Priority: "
    "high.",
    "Classify the request. Input: Please update my SSN on file to {US_SSN}, thanks.",
    "Extract the payment details: transfer 250 EUR to IBAN {IBAN_CODE} (account holder "
    "{PERSON}).",
    "Rewrite politely: send the invoice to {EMAIL_ADDRESS} NOW.",
    "Write a reply to {PERSON}, who moved to {LOCATION} and wants the delivery address "
    "changed.",
    "user: hey, it's {PERSON}. call me back on {PHONE_NUMBER}\nassistant: Sure, I will call "
    "you this afternoon.",
    "Form submission\nName: {PERSON}\nEmail: {EMAIL_ADDRESS}\nPhone: {PHONE_NUMBER}\n"
    "City: {LOCATION}",
    "Our firewall blocked {IP_ADDRESS} after 40 failed attempts. Draft an incident note.",
    "Translate to French: My social security number is {US_SSN} and I live in {LOCATION}.",
    "Q: Is {CREDIT_CARD} a valid card number? A: Let me check the checksum.",
    "Fix the grammar: {PERSON} have send the documents to {EMAIL_ADDRESS} yesterday.",
    "Support chat log - agent: How can I help? customer: Refund to {IBAN_CODE} please, "
    "name {PERSON}.",
    "Meeting notes: {PERSON} and {PERSON} agreed to open an office in {LOCATION}.",
    "The server at {IP_ADDRESS} is returning 502 errors since the deploy. What should I check?",
    "Please call {PERSON} at {PHONE_NUMBER} to confirm the appointment.",
    "Account review: holder {PERSON}, SSN {US_SSN}, card ending {CREDIT_CARD}.",
    "{PERSON} wrote: 'Ship it to {LOCATION}, my number is {PHONE_NUMBER}.' Extract the fields.",
    "Hello {PERSON}, your Acme Cloud subscription renews tomorrow. Questions? {EMAIL_ADDRESS}",
)
_NEGATIVES = (
    "Explain the difference between a list and a tuple in Python.",
    "Write a haiku about autumn leaves.",
    "The Jordan Router X2 supports WPA3; summarise its setup guide.",
    "Our Support Bot answers questions about the Paris Plan pricing tier.",
    "Acme Cloud had 99.95% uptime in Q3 across 12 regions.",
    "Convert 3.5 kilometres to miles and show the steps.",
    "Order 4521 shipped on 2024-03-02 with 3 items.",
    "List three benefits of unit tests.",
)
_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "en_IE", "it_IT")
_SLOT = re.compile(r"\{([A-Z_]+)\}")


def fakers_for(seed: int) -> dict[str, Any]:
    fakers = {}
    for index, locale in enumerate(_LOCALES):
        faker = Faker(locale)
        faker.seed_instance(seed * 100 + index)
        fakers[locale] = faker
    return fakers


def fake_value(entity: str, rng: random.Random, fakers: dict[str, Any]) -> str:
    faker = fakers[rng.choice(_LOCALES)]
    us = fakers["en_US"]
    if entity == "PERSON":
        return faker.name() if rng.random() < 0.7 else f"{faker.first_name()} {faker.last_name()}"
    if entity == "EMAIL_ADDRESS":
        return faker.email()
    if entity == "PHONE_NUMBER":
        return (us if rng.random() < 0.5 else faker).phone_number()
    if entity == "CREDIT_CARD":
        number = us.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex"]))
        return _group(number) if rng.random() < 0.5 else number
    if entity == "US_SSN":
        return us.ssn()
    if entity == "IBAN_CODE":
        iban = fakers[rng.choice(("de_DE", "fr_FR", "en_GB", "it_IT"))].iban()
        return _group(iban) if rng.random() < 0.3 else iban
    if entity == "IP_ADDRESS":
        return us.ipv4() if rng.random() < 0.8 else us.ipv6()
    if entity == "LOCATION":
        return faker.city()
    raise ValueError(entity)


def _group(value: str) -> str:
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4))


def _fill(template: str, rng: random.Random, fakers: dict[str, Any]) -> dict[str, Any]:
    text, masked, spans, last = "", "", [], 0
    for match in _SLOT.finditer(template):
        literal = template[last:match.start()]
        text, masked, last = text + literal, masked + literal, match.end()
        entity = match.group(1)
        if entity == "N":
            number = str(rng.randint(1000, 99999))
            text, masked = text + number, masked + number
            continue
        value = fake_value(entity, rng, fakers)
        spans.append({"entity_type": entity, "entity_value": value,
                      "start_position": len(text), "end_position": len(text) + len(value)})
        text, masked = text + value, masked + f"{{{{{entity}}}}}"
    tail = template[last:]
    return {"full_text": text + tail, "masked": masked + tail, "spans": spans}


def generate(n: int = 3000, seed: int = 0, negative_fraction: float = 0.1) -> list[dict]:
    """``n`` labelled snippets in presidio-research's format."""
    rng = random.Random(seed)
    fakers = fakers_for(seed)
    samples = []
    for index in range(n):
        if rng.random() < negative_fraction:
            sample = {"full_text": (text := rng.choice(_NEGATIVES)), "masked": text, "spans": []}
        else:
            sample = _fill(rng.choice(_TEMPLATES), rng, fakers)
        sample.update({"template_id": index, "metadata": {"generator": "ftp.privacy.corpus",
                                                           "seed": seed}})
        samples.append(sample)
    return samples
