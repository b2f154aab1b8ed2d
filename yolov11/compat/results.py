"""Ultralytics' metric keys, and the short names our events, tables and JSON use.

Relies on: the result keys of ``DetectionTrainer.metrics`` and ``DetMetrics.results_dict``
("metrics/precision(B)", ... "metrics/mAP50-95(B)") and the "val/box_loss" style loss keys.
"""

from __future__ import annotations

from typing import Any

METRIC_KEYS = {  # Ultralytics' result keys -> the short names of our events and tables
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "mAP50",
    "metrics/mAP50-95(B)": "mAP50-95",
}


def short_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """{"precision", "recall", "mAP50", "mAP50-95"} of an Ultralytics metrics dict (those present)."""
    return {short: round(float(metrics[key]), 5) for key, short in METRIC_KEYS.items() if key in metrics}


def short_losses(losses: dict[str, Any], prefix: str | None = None) -> dict[str, float]:
    """{"box_loss": ..., ...} of Ultralytics' "train/box_loss" or "val/box_loss" keys (only
    ``prefix``'s when given)."""
    return {k.split("/")[-1]: round(float(v), 5) for k, v in losses.items() if prefix is None or k.startswith(f"{prefix}/")}
