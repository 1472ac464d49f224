"""Decrypting a stack's ``!encrypted`` values in memory, once per command, where the stack is loaded.

A :class:`Revealer` is the ``reveal`` function the model's loader takes
(:func:`runner.model.loader.read_stack`): it reads the identities the first time a
value needs them (a stack without encrypted values never reads a key), decrypts each
armored text once, and turns a failure into a UserError at the value's place that
says which identities were tried. Every plaintext it hands out is also noted in
:func:`revealed`, the process's set of secrets, so the last-resort printers (an
internal error's traceback) can hide them too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from runner.errors import UserError
from runner.model.encrypted import Encrypted, encrypted_in, replace_encrypted
from runner.model.stack import MIN_SECRET_LENGTH, Stack
from runner.secrets.age import DecryptionFailed, Identities, decrypt, load_identities, parse_recipient

IDENTITY_HINT = "set RUNNER_AGE_KEY or RUNNER_AGE_KEY_FILE to an identity the value is encrypted to"
_REVEALED: set[str] = set()
_LOCK = threading.Lock()


def revealed() -> frozenset[str]:
    """Every plaintext decrypted in this process so far."""
    with _LOCK:
        return frozenset(_REVEALED)


class Revealer:
    """Decrypts :class:`Encrypted` values with the identities at hand (read on first use)."""

    def __init__(self, environ: Mapping[str, str] | None = None, known: dict[str, str] | None = None):
        """:param known: plaintexts already decrypted, by armored text (:attr:`Stack.decrypted`); what
            is decrypted now is added to it, so a stack's secure set grows with its cookbooks' values."""
        self.environ = os.environ if environ is None else environ
        self.values: dict[str, str] = known if known is not None else {}
        self._identities: Identities | None = None
        self._error: UserError | None = None

    def identities(self) -> Identities:
        if self._error is not None:
            raise self._error
        if self._identities is None:
            try:
                self._identities = load_identities(self.environ)
            except UserError as exc:  # a malformed key: the same message for every value
                self._error = exc
                raise
        return self._identities

    def __call__(self, value: Encrypted) -> str:
        if value.armored in self.values:
            return self.values[value.armored]
        try:
            text = decrypt(value.armored, self.identities())
        except DecryptionFailed as exc:
            raise UserError(f"!encrypted value: {exc}", value.location, IDENTITY_HINT) from None
        except UserError as exc:  # a malformed identity
            raise UserError(f"!encrypted value: {exc.message}", value.location, exc.hint) from None
        if len(text) < MIN_SECRET_LENGTH:
            raise UserError(f"this !encrypted value is {len(text)} characters long; a secret needs at least "
                            f"{MIN_SECRET_LENGTH}, or it could not be hidden in output", value.location)
        self.values[value.armored] = text
        with _LOCK:
            _REVEALED.add(text)
        return text


def reveal_attributes(attributes: dict[str, Any], reveal: Revealer, errors: list[UserError]) -> dict[str, Any]:
    """A cookbook's attributes with their ``!encrypted`` values decrypted; failures go to ``errors``."""
    if not any(True for _ in encrypted_in(attributes)):
        return attributes

    def one(value: Encrypted) -> Any:
        try:
            return reveal(value)
        except UserError as exc:
            errors.append(exc)
            return value

    return replace_encrypted(attributes, one)


def check_recipients(stack: Stack) -> list[UserError]:
    """An error for each ``stack.secrets.recipients`` entry that is no age public key (the model
    checked their shape; this is age's own check)."""
    errors = []
    for i, recipient in enumerate(stack.secrets.recipients):
        try:
            parse_recipient(recipient)
        except ValueError as exc:
            errors.append(UserError(f"stack.secrets.recipients[{i}]: {exc}",
                                    stack.where("stack", "secrets", "recipients", i)))
    return errors


def plaintext_secrets(stack: Stack) -> list[str]:
    """A warning for each secure value written in plain text (``secure: true``, a database password):
    it works, but the stack file cannot be committed safely."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for app in stack.apps.values():
        for name, env in app.environment.items():
            if env.secure and not env.encrypted:
                found.append((("apps", app.name, "environment", name, "value"),
                              f"apps.{app.name}.environment.{name}"))
    for database in stack.databases.values():
        if not database.password.encrypted:
            found.append((("stack", "databases", database.name, "password"),
                          f"stack.databases.{database.name}.password"))
    located = sorted(((stack.where(*path), what) for path, what in found),
                     key=lambda item: (item[0].path, item[0].line, item[0].column))
    return [f"{where}: {what} is a secure value in plain text; encrypt it with "
            f"`runner secrets encrypt` and write it as `!encrypted |` and the block it prints"
            for where, what in located]
