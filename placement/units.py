"""Unit conversions for descriptor quantities: memory → GB, bandwidth → Mbps, latency → ms.

SONATA's plugin only knew "MB" (divide by 1024) and assumed GB otherwise. The SONATA schemas
allow B, kB, KiB, MB, MiB, GB, GiB, TB, TiB, PT, PiT for memory and bps..Tbps for bandwidth.
Like SONATA we use the 1024 factor between memory units whether the unit is written in its
decimal or binary form (an "MB" of RAM is a MiB in practice). A missing memory unit means MB,
the son-schema default; a missing bandwidth unit means Mbps and a missing latency unit ms.
"""

from __future__ import annotations

from typing import Any

from placement.errors import PlacementError

_MEMORY_TO_GB = {
    "b": 1 / 1024**3,
    "kb": 1 / 1024**2,
    "kib": 1 / 1024**2,
    "ki": 1 / 1024**2,
    "mb": 1 / 1024,
    "mib": 1 / 1024,
    "mi": 1 / 1024,
    "gb": 1.0,
    "gib": 1.0,
    "gi": 1.0,
    "tb": 1024.0,
    "tib": 1024.0,
    "ti": 1024.0,
    "pt": 1024.0**2,
    "pit": 1024.0**2,
    "pb": 1024.0**2,
    "pib": 1024.0**2,
}
_BANDWIDTH_TO_MBPS = {"bps": 1e-6, "kbps": 1e-3, "mbps": 1.0, "gbps": 1e3, "tbps": 1e6}
_LATENCY_TO_MS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3}


def number(value: Any, where: str) -> float:
    """``value`` as a non-negative float, or a PlacementError naming ``where``."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise PlacementError(f"{where}: expected a number, got {value!r}") from None
    if result != result or result < 0:  # NaN or negative
        raise PlacementError(f"{where}: expected a non-negative number, got {value!r}")
    return result


def _factor(table: dict[str, float], unit: Any, where: str) -> float:
    key = str(unit).strip().lower()
    if key not in table:
        raise PlacementError(f"{where}: unknown unit {unit!r} (known: {', '.join(sorted(table))})")
    return table[key]


def memory_gb(size: Any, unit: Any = None, *, where: str = "memory", default_unit: str = "MB") -> float:
    """A memory size in GB; ``unit`` None means ``default_unit`` (son-schema default: MB)."""
    return number(size, where) * _factor(_MEMORY_TO_GB, unit or default_unit, where)


def bandwidth_mbps(value: Any, *, where: str = "bandwidth") -> float:
    """A bandwidth in Mbps from a number or ``{bandwidth, bandwidth_unit}``."""
    if isinstance(value, dict):
        unit = value.get("bandwidth_unit", "Mbps")
        return number(value.get("bandwidth"), where) * _factor(_BANDWIDTH_TO_MBPS, unit, where)
    return number(value, where)


def latency_ms(value: Any, *, where: str = "latency") -> float:
    """A latency in ms from a number or ``{latency, latency_unit}``."""
    if isinstance(value, dict):
        unit = value.get("latency_unit", "ms")
        return number(value.get("latency"), where) * _factor(_LATENCY_TO_MS, unit, where)
    return number(value, where)
