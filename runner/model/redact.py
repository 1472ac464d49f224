"""Keeping secrets out of text: the one masking every output goes through.

It lives in the model so the loader can hide a decrypted value in its own
error messages; :mod:`runner.engine.redact` hands it on to everything above.
"""

from __future__ import annotations

from collections.abc import Iterable

from runner.model.stack import MIN_SECRET_LENGTH

MASK = "********"


class Redactor:
    """Replaces every known secret value in text with a mask (longest first, so overlaps are covered)."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
