"""Typed exceptions. The library raises these; only the CLI turns them into exit codes.

Every message says what was wrong, the value received, where, and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass


class RagtuneError(Exception):
    """Base class of every error ragtune raises on purpose."""

    exit_code = 1


class InputError(RagtuneError):
    """A bad argument, file or value given by the user."""

    exit_code = 2


class AssetError(RagtuneError):
    """An offline asset (model or dataset) is missing, corrupt or cannot be prepared."""

    exit_code = 3


class OfflineError(AssetError):
    """A hub id was given that is not cached locally; this machine cannot download it."""


class NoUsableDataError(InputError):
    """Every input was rejected, so there is nothing to work on."""


class LLMError(RagtuneError):
    """An LLM provider failed after its bounded retries."""


@dataclass(frozen=True)
class Problem:
    """One validation finding: where it is and what is wrong."""

    location: str
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class DataValidationError(InputError):
    """A dataset failed validation; `problems` lists every finding with its location."""

    def __init__(self, what: str, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        first = f"; the first: {errors[0]}" if errors else ""
        shown = "".join(f"\n  {p}" for p in errors[1:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        rest = f"\nthe others:{shown}{more}" if len(errors) > 1 else ""
        super().__init__(f"{what} failed validation with {len(errors)} error(s){first}{rest}\n"
                         f"(`ragtune data validate` or `ragtune data info` lists every problem)")
