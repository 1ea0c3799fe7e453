"""`ftp data diff`, `ftp data stats`, `ftp data show`, `ftp data generate`."""

from __future__ import annotations

COMMANDS: tuple = ()
