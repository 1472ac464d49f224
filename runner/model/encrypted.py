"""Encrypted values as the model sees them: armored text and where it was written, never the plaintext.

A YAML scalar tagged ``!encrypted`` loads as an :class:`Encrypted`. The model
cannot decrypt (that is :mod:`runner.secrets`, a layer above): whoever loads a
stack hands the loader a ``reveal`` function, and the loader puts each
plaintext where its value was, remembering it as a secret
(:attr:`runner.model.stack.Stack.decrypted`) so every output hides it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from runner.errors import Location

TAG = "!encrypted"
#: what an age public key looks like (bech32, ``age1`` and 58 characters); runner.secrets checks it fully
RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Encrypted:
    """An ``!encrypted`` value: the armored age text, and its place in the file (for errors)."""

    armored: str
    location: Location

    def __repr__(self) -> str:
        return f"Encrypted(at {self.location})"


def encrypted_in(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Encrypted]]:
    """Every :class:`Encrypted` inside plain data (dicts, lists), with its key path below ``path``."""
    todo: list[tuple[KeyPath, Any]] = [(path, value)]
    while todo:  # bounded: each item of the (finite, acyclic) data is taken once
        where, item = todo.pop()
        if isinstance(item, Encrypted):
            yield where, item
        elif isinstance(item, dict):
            todo.extend((where + (key,), child) for key, child in item.items())
        elif isinstance(item, list):
            todo.extend((where + (i,), child) for i, child in enumerate(item))


def replace_encrypted(value: Any, reveal: Callable[[Encrypted], Any]) -> Any:
    """A copy of plain data with each :class:`Encrypted` replaced by ``reveal(it)``; the rest shared."""
    if isinstance(value, Encrypted):
        return reveal(value)
    if isinstance(value, dict):
        return {key: replace_encrypted(child, reveal) for key, child in value.items()}
    if isinstance(value, list):
        return [replace_encrypted(child, reveal) for child in value]
    return value
