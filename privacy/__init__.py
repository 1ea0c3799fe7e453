"""The privacy layer: PII scrubbing (Presidio, built offline), canaries and leakage audits.

Importing this package is cheap; Presidio and spaCy load only when a scrubber is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftp.privacy.scrubber import Scrubber

__all__ = ["build_scrubber"]


def build_scrubber(privacy_config: dict[str, Any] | None = None,
                   secret: bytes | None = None, **overrides: Any) -> Scrubber:
    """A scrubber for ``project.config["privacy"]`` (defaults for missing keys).

    ``secret`` keys pseudonyms and salted hashes; it never enters the store. Without one, the
    key comes from ``FTP_PRIVACY_SECRET`` or a key file under ``FTP_HOME``.
    """
    from ftp.privacy.scrubber import Scrubber

    return Scrubber.from_config(privacy_config or {}, secret=secret, **overrides)
