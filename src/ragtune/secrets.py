"""Secrets never reach a log, a run folder or a model card: find them and scrub them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

__all__ = ["REDACTED", "secrets_from_env", "scrub"]

_SECRET_ENV = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_SECRET_SHAPES = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=]{12,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),
]
REDACTED = "[REDACTED]"


def secrets_from_env() -> list[str]:
    """Values of environment variables whose names look secret (API_KEY, TOKEN, SECRET, PASSWORD)."""
    return [v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 8]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known secret values and secret-shaped strings (sk-..., Bearer ..., hf_...) by [REDACTED]."""
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, REDACTED)
    for shape in _SECRET_SHAPES:
        text = shape.sub(REDACTED, text)
    return text
