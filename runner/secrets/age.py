"""age encryption of single values, through pyrage: identities, recipients, armored text.

An encrypted value is the ASCII-armored age file of its UTF-8 text
(``-----BEGIN AGE ENCRYPTED FILE-----`` ... ``-----END AGE ENCRYPTED FILE-----``),
written in YAML as ``!encrypted |`` followed by that block. Recipients are
public keys (``age1...``), one per person or CI; identities are secret keys
(``AGE-SECRET-KEY-1...``), found in this order:

1. ``RUNNER_AGE_KEY``: the key itself (or several, one per line);
2. ``RUNNER_AGE_KEY_FILE``: a file of keys (``age-keygen``'s format: ``#`` comments, one key per line);
3. ``~/.config/runner/age.key``.

Nothing here prints, logs or keeps a plaintext: callers get it back and own it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyrage
from pyrage import x25519

from runner.errors import UserError

TAG = "!encrypted"
ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
KEY_ENV = "RUNNER_AGE_KEY"
KEY_FILE_ENV = "RUNNER_AGE_KEY_FILE"
DEFAULT_KEY_FILE = Path("~/.config/runner/age.key")


@dataclass(frozen=True)
class Identities:
    """The secret keys at hand, and where each set came from (for the message when none fits)."""

    keys: tuple[x25519.Identity, ...]
    tried: tuple[str, ...]  # e.g. ("RUNNER_AGE_KEY", "/home/me/.config/runner/age.key (missing)")

    def describe(self) -> str:
        return ", ".join(self.tried) if self.tried else "none"


class DecryptionFailed(Exception):
    """A value could not be decrypted; the message says why (never the value). Callers add the location."""


def generate() -> tuple[str, str]:
    """A new identity: (secret key text ``AGE-SECRET-KEY-1...``, public key ``age1...``)."""
    identity = x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def public_key(secret: str) -> str:
    """The recipient (``age1...``) of a secret key."""
    return str(_identity(secret, "the key").to_public())


def _identity(text: str, where: str) -> x25519.Identity:
    try:
        return x25519.Identity.from_str(text.strip())
    except (pyrage.IdentityError, ValueError) as exc:
        raise UserError(f"{where}: not an age secret key (AGE-SECRET-KEY-1...): {exc}") from None


def _keys_in(text: str, where: str) -> list[x25519.Identity]:
    lines = [line.strip() for line in text.splitlines()]
    return [_identity(line, where) for line in lines if line and not line.startswith("#")]


def load_identities(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Identities:
    """Every identity found (see the module docstring); an unreadable or malformed one is a UserError."""
    environ = os.environ if environ is None else environ
    if environ.get(KEY_ENV, "").strip():
        return Identities(tuple(_keys_in(environ[KEY_ENV], KEY_ENV)), (KEY_ENV,))
    if environ.get(KEY_FILE_ENV, "").strip():
        path = Path(environ[KEY_FILE_ENV]).expanduser()
        label = f"{KEY_FILE_ENV}={path}"
    else:
        path = (home / ".config/runner/age.key") if home is not None else DEFAULT_KEY_FILE.expanduser()
        label = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Identities((), (f"{label} (missing)",))
    except OSError as exc:
        raise UserError(f"cannot read the age identity file {path}: {exc.strerror}") from None
    return Identities(tuple(_keys_in(text, str(path))), (label,))


def parse_recipient(text: str) -> x25519.Recipient:
    """An ``age1...`` public key. :raises ValueError: it is not one (callers locate the error)."""
    try:
        return x25519.Recipient.from_str(text.strip())
    except (pyrage.RecipientError, ValueError) as exc:
        raise ValueError(f"not an age public key (age1...): {exc}") from None


def encrypt(plaintext: str, recipients: Sequence[str]) -> str:
    """The armored age text of ``plaintext`` for every recipient (at least one)."""
    if not recipients:
        raise UserError("no recipients to encrypt to", hint="list public keys in stack.secrets.recipients")
    keys = [parse_recipient(r) for r in recipients]
    return pyrage.encrypt(plaintext.encode("utf-8"), keys, armored=True).decode("ascii").strip() + "\n"


def is_armored(text: str) -> bool:
    stripped = text.strip()
    return stripped.startswith(ARMOR_BEGIN) and stripped.endswith(ARMOR_END)


def decrypt(armored: str, identities: Identities) -> str:
    """The plaintext of an armored value. :raises DecryptionFailed: no identity, none fits, or corrupt text."""
    if not is_armored(armored):
        raise DecryptionFailed(f"not an armored age value (it must start with {ARMOR_BEGIN})")
    if not identities.keys:
        raise DecryptionFailed(f"no age identity to decrypt it with (tried: {identities.describe()})")
    try:
        data = pyrage.decrypt(armored.strip().encode("ascii") + b"\n", list(identities.keys))
    except pyrage.DecryptError as exc:
        why = str(exc) or "no identity matches"
        raise DecryptionFailed(f"cannot decrypt it ({why}; tried: {identities.describe()})") from None
    except UnicodeEncodeError:
        raise DecryptionFailed("not an armored age value (it holds non-ASCII characters)") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionFailed("it decrypts to bytes that are not UTF-8 text") from None
