"""Errors the CLI turns into one clear line and an exit code (never a traceback)."""

from __future__ import annotations


class EdgePPGError(Exception):
    """Bad input or usage: the message names the problem and the fix. CLI exit code 2."""

    exit_code = 2


class CheckFailed(EdgePPGError):
    """A gate (budget, parity tolerance) was not met. CLI exit code 1."""

    exit_code = 1


def unknown_name(kind: str, name: str, valid) -> EdgePPGError:
    """Registry miss: always list the valid names so the user can fix the typo."""
    return EdgePPGError(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")
