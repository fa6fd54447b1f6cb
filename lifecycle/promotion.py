"""Champion/challenger decision for scheduled retraining.

A challenger is promoted only when it beats the champion on the *same* held-out users by a configurable relative
margin on the chosen metric; with no champion it is promoted if it is valid. Every decision is a record with the
metrics of both sides, appended to the registry's ``decisions.jsonl``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    metric: str
    challenger: str
    champion: str | None
    challenger_value: float
    champion_value: float | None
    margin: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    challenger: str,
    challenger_metrics: Mapping[str, float],
    champion: str | None,
    champion_metrics: Mapping[str, float] | None,
    metric: str = "ndcg@10",
    margin: float = 0.01,
) -> Decision:
    """Promote when ``challenger >= champion * (1 + margin)`` (relative margin) on ``metric``.

    Raises KeyError naming the metric when it is missing from the challenger's metrics."""
    if metric not in challenger_metrics:
        raise KeyError(f"metric {metric!r} missing from challenger metrics {sorted(challenger_metrics)}")
    new = float(challenger_metrics[metric])

    def verdict(promote: bool, reason: str, old: float | None) -> Decision:
        return Decision(promote, reason, metric, challenger, champion, new, old, margin)

    if not math.isfinite(new):
        return verdict(False, f"challenger {metric} is not finite", None)
    if champion is None or champion_metrics is None or metric not in champion_metrics:
        return verdict(True, "no champion to beat", None)
    old = float(champion_metrics[metric])
    threshold = old * (1.0 + margin)
    if new >= threshold and new > old:
        return verdict(True, f"{metric} {new:.4f} >= champion {old:.4f} x (1 + {margin:g})", old)
    return verdict(
        False, f"{metric} {new:.4f} < required {threshold:.4f} (champion {old:.4f}, margin {margin:g})", old
    )
