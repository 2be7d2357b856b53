"""Which accelerator a job runs on: `--device auto|cpu|cuda|mps` (auto = the best available), and its precision."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator

from ragtune.errors import InputError

__all__ = ["Device", "DeviceSetting", "DEVICE_HELP", "resolve_device", "bf16_supported"]

Device = Literal["auto", "cpu", "cuda", "mps"]
DEVICE_HELP = ("where to run: 'auto' (a CUDA GPU when there is one, else Apple's MPS, else the CPU), 'cpu', 'cuda' "
               "(or cuda:N) or 'mps'; bf16 is used where the device supports it")


def _check_name(value: str) -> str:
    """A device setting's spelling (whether it is available is checked when a job starts)."""
    value = value.strip().lower()
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
        raise ValueError(f"must be auto, cpu, cuda, cuda:N or mps")
    return value


DeviceSetting = Annotated[str, AfterValidator(_check_name)]  # a config field: spelling checked with the other options


def resolve_device(device: str | None = "auto") -> str:
    """The concrete torch device for a setting; an unavailable one is a clear error, not a crash later."""
    import torch

    device = (device or "auto").strip().lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: no CUDA GPU is available here (torch {torch.__version__}, "
                             f"CUDA build: {torch.version.cuda or 'no'}); use --device cpu or auto.")
        return device
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InputError("--device mps: Apple's MPS backend is not available here; use --device cpu or auto.")
        return device
    if device == "cpu":
        return device
    raise InputError(f"--device must be auto, cpu, cuda, cuda:N or mps; got {device!r}.")


def bf16_supported(device: str) -> bool:
    """bf16 training and inference: on CUDA GPUs that support it (Ampere and later)."""
    import torch

    return device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
