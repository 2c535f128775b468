"""Summaries of repeated measurements: min / median / max, and ratios paired round by round."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any


def summary(values: Sequence[float]) -> dict[str, Any]:
    """``{"min", "median", "max", "n"}`` of ``values`` (all ``None`` when there are none)."""
    if not values:
        return {"min": None, "median": None, "max": None, "n": 0}
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "n": len(values),
    }


def paired(
    rounds: Sequence[dict[str, float]], ratio: Callable[[dict[str, float]], float | None]
) -> dict[str, Any]:
    """Summary of ``ratio(round)`` over rounds: each ratio uses figures measured side by side."""
    values = [r for r in (ratio(one) for one in rounds) if r is not None]
    return summary(values)


def safe_div(a: float, b: float) -> float | None:
    """``a / b``, or ``None`` when ``b`` is zero."""
    return a / b if b else None
