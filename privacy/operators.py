"""Replacement policies per entity: placeholder, pseudonym, hash, mask, keep, drop.

Pseudonyms and hashes are keyed by a secret (HMAC-SHA256), so the same value gets the same
replacement everywhere a scrubber with that secret sees it, and nobody without the secret
can reverse or even test a guess. The secret is never written to the store.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ftp.errors import ConfigError
from ftp.paths import ftp_home

OPERATORS = ("placeholder", "pseudonym", "hash", "mask", "keep", "drop")
SECRET_ENV = "FTP_PRIVACY_SECRET"

# How a realistic fake of each entity type is made (Faker method names).
_FAKES = {
    "PERSON": "name", "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone_number",
    "CREDIT_CARD": "credit_card_number", "US_SSN": "ssn", "IBAN_CODE": "iban",
    "IP_ADDRESS": "ipv4", "LOCATION": "city", "NRP": "country",
}


def load_secret(secret: bytes | str | None = None) -> bytes:
    """The key for pseudonyms and hashes: given, ``$FTP_PRIVACY_SECRET``, or a key file.

    The key file (``FTP_HOME/privacy.key``, mode 0600) is created on first use so that
    pseudonyms stay consistent across runs on this machine without the key entering a project.
    """
    if secret is None:
        secret = os.environ.get(SECRET_ENV) or None
    if secret is not None:
        return secret.encode() if isinstance(secret, str) else bytes(secret)
    path = ftp_home() / "privacy.key"
    if not path.is_file():
        _write_key(path)
    return path.read_bytes()


def _write_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())


def digest(secret: bytes, entity: str, value: str) -> bytes:
    return hmac.new(secret, f"{entity}\x00{value}".encode(), hashlib.sha256).digest()


class Pseudonymizer:
    """The same value of the same type always maps to the same realistic fake."""

    def __init__(self, secret: bytes) -> None:
        from faker import Faker  # only when pseudonymising: ftp.toml's check reads OPERATORS

        self.secret = secret
        self.faker = Faker("en_US")
        self.cache: dict[tuple[str, str], str] = {}

    def __call__(self, entity: str, value: str) -> str:
        key = (entity, value)
        if key not in self.cache:
            self.cache[key] = self._fake(entity, value)
        return self.cache[key]

    def _fake(self, entity: str, value: str) -> str:
        seed = int.from_bytes(digest(self.secret, entity, value)[:8], "big")
        method = _FAKES.get(entity)
        if method is None:
            return f"{entity}_{seed % 10**8:08d}"
        self.faker.seed_instance(seed)
        return str(getattr(self.faker, method)())


def mask(value: str, keep_last: int = 4) -> str:
    """Every character but the last ``keep_last`` (none of a short value) becomes ``*``."""
    keep = keep_last if len(value) > 2 * keep_last else 0
    return "*" * (len(value) - keep) + value[len(value) - keep:]


def replacement(operator: str, entity: str, secret: bytes,
                pseudonyms: Pseudonymizer | None) -> Callable[[str], str] | None:
    """A function from the found value to its replacement (``None`` means keep)."""
    if operator == "placeholder" or operator == "drop":
        return lambda _value: f"<{entity}>"
    if operator == "pseudonym":
        return lambda value: pseudonyms(entity, value)  # type: ignore[misc]
    if operator == "hash":
        return lambda value: f"<{entity}:{digest(secret, entity, value).hex()[:12]}>"
    if operator == "mask":
        return mask
    if operator == "keep":
        return None
    raise ConfigError(f"unknown privacy operator {operator!r}; known: {', '.join(OPERATORS)}")


def check_operators(operators: dict[str, str], default: str) -> None:
    for entity, operator in {**operators, "default_operator": default}.items():
        if operator not in OPERATORS:
            raise ConfigError(
                f"privacy.operators.{entity}: unknown operator {operator!r}; "
                f"known: {', '.join(OPERATORS)}"
            )
