"""What the running host can do, read when it is needed — never a constant baked into a default.

Hosts of one machine kind differ (some CPUs have AVX512-VNNI and AVX512-BF16, others AVX2 only), and
a setting that is fastest on one can be many times slower on another: bfloat16 autocast on a CPU
without native bf16 arithmetic is emulated, and int8 kernels saturate differently without VNNI.
So every speed decision (bf16 for training, which int8 graph to trust, threads) asks this module
about the machine it runs on, and records the answer with its reason.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 flags with bfloat16 arithmetic in hardware
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features`` in /proc/cpuinfo); empty if unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def speed_flags() -> list[str]:
    """The flags that decide bf16 and int8 speed, to print beside every speed figure."""
    flags = cpu_flags()
    return [f for f in SPEED_FLAGS if f in flags]


def cpu_isa() -> str:
    """The int8 instruction-set class of this CPU: avx512_vnni, avx512, avx2 or arm64.

    An int8 graph is quantised with the preset of one class and its accuracy gate holds for that
    class: without VNNI the U8S8 kernels can saturate, so the same graph may score differently.
    """
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    flags = cpu_flags()
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def usable_cores() -> int:
    """The cores this process may use (containers often allow fewer than exist)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Bf16Decision:
    """Whether training runs under bfloat16 autocast, the recipe's setting, and why."""

    setting: str  # "auto", "true" or "false", as the recipe said
    used: bool
    reason: str
    native: bool = False  # whether this host computes bf16 natively (``true`` without it is slow)

    def to_dict(self) -> dict:
        return {"setting": self.setting, "used": self.used, "reason": self.reason}


def native_bf16(on_cuda: bool | None = None) -> tuple[bool, str]:
    """Does the device that will train compute bfloat16 natively? ``(answer, reason)``."""
    if on_cuda is None:
        on_cuda = _cuda_available()
    if on_cuda:
        import torch

        name = torch.cuda.get_device_name(0)
        if torch.cuda.is_bf16_supported():
            return True, f"CUDA device {name} supports bfloat16"
        return False, f"CUDA device {name} has no native bfloat16"
    flags = cpu_flags()
    found = [f for f in NATIVE_BF16_FLAGS if f in flags]
    if found:
        return True, f"CPU has {', '.join(found)}"
    if cpu_isa() == "arm64" and "bf16" in flags:
        return True, "Arm CPU has the bf16 extension"
    return False, f"CPU has no native bfloat16 ({' or '.join(NATIVE_BF16_FLAGS)} absent; emulated bf16 is slower than fp32)"


def decide_bf16(setting: bool | str, on_cuda: bool | None = None) -> Bf16Decision:
    """Resolve a recipe's ``bf16`` (``auto``, ``True``, ``False``) on this host.

    ``auto`` is on only where the hardware computes bfloat16 natively. ``True`` is honoured
    everywhere (the caller warns when it will be slow); ``False`` is always fp32.
    """
    native, why = native_bf16(on_cuda)
    if setting == "auto":
        return Bf16Decision("auto", native, f"auto: {why}", native)
    if setting is True:
        return Bf16Decision("true", True, "the recipe asks for bf16" + ("" if native else f", although {why}"), native)
    return Bf16Decision("false", False, "the recipe asks for fp32", native)


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False
