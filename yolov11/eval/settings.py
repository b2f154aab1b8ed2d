"""Evaluation settings: the defaults and help that ``evaluate`` and the CLI's eval flags share."""

from __future__ import annotations

from dataclasses import dataclass

from yolov11.export.settings import option


@dataclass(frozen=True)
class EvalSettings:
    split: str = option("val", "the split to evaluate on: train, val or test")
    imgsz: int | None = option(None, "input size (default: the run's training size)")
    batch: int = option(16, "images per validation batch")
    device: str = option("cpu", "cpu or a GPU index")
