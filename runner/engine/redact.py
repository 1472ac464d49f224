"""Keeping secrets out of everything the runner prints or reports (see :mod:`runner.model.redact`)."""

from __future__ import annotations

from runner.model.redact import MASK, Redactor

__all__ = ["MASK", "Redactor"]
