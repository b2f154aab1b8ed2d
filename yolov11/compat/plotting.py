"""Ultralytics' drawing, and the sample batches its trainer would build (augmentation preview).

Relies on: ``utils.plotting.Annotator`` (BGR arrays; ``example=`` switches to PIL and a Unicode
font for non-Latin names; ``box_label``, ``result(pil=True)``), ``utils.plotting.colors``,
``utils.plotting.plot_images(labels, paths, fname, names, max_subplots, threaded)``; and, as
``BaseTrainer._setup_train`` / ``get_dataset`` call them: ``cfg.get_cfg(overrides=)``,
``utils.checks.check_imgsz(stride=, floor=, max_dim=1)``, ``data.utils.check_det_dataset``,
``data.build.build_yolo_dataset(cfg, path, batch, data, mode="train", stride=)`` and its
``collate_fn``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

STRIDE = 32  # the detection models' largest stride: the trainer rounds imgsz up to a multiple of it


def class_color(c: int) -> tuple[int, int, int]:
    """Ultralytics' colour of class ``c`` (BGR, as Annotator draws)."""
    from ultralytics.utils.plotting import colors

    return colors(int(c), True)


def draw_boxes(rgb: Image.Image, boxes: list[tuple[list[float], str, tuple[int, int, int]]], dest: Path, example: str,
               line_width: int | None = None) -> None:
    """Draw ``boxes`` ((x1, y1, x2, y2) pixels, label, BGR colour) on ``rgb`` as Ultralytics'
    own plots do, and save a JPEG at ``dest``; ``example`` holds the class names (a non-Latin
    one makes Annotator use its Unicode font)."""
    from ultralytics.utils.plotting import Annotator

    annotator = Annotator(np.ascontiguousarray(np.asarray(rgb)[..., ::-1]), line_width=line_width, example=example)
    for xyxy, label, color in boxes:
        annotator.box_label([float(v) for v in xyxy], label, color=color)
    annotator.result(pil=True).save(dest, quality=90)


def training_config(data_yaml: Path, imgsz: int, augment: dict[str, Any]):
    """Ultralytics' train config for these overrides, image size rounded as the trainer does;
    raises what get_cfg raises for an unknown key or a value out of range."""
    from ultralytics.cfg import get_cfg
    from ultralytics.utils.checks import check_imgsz

    cfg = get_cfg(overrides={"data": str(data_yaml), "imgsz": imgsz, **augment})
    cfg.imgsz = check_imgsz(cfg.imgsz, stride=STRIDE, floor=STRIDE, max_dim=1)
    return cfg


def training_samples(cfg, n: int) -> tuple[dict, dict]:
    """(a collated batch of ``n`` training samples with the trainer's transforms, the dataset's
    names). The caller seeds (and restores) the random generators around it."""
    import random

    from ultralytics.data.build import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(cfg.data, autodownload=False, split=cfg.split)
    if cfg.single_cls:
        data["names"], data["nc"] = {0: "item"}, 1
    # A fresh dataset each call: mosaic partners come from its buffer of recent images.
    dataset = build_yolo_dataset(cfg, data["train"], n, data, mode="train", stride=STRIDE)
    order = random.sample(range(len(dataset)), min(n, len(dataset)))
    # Indexing the dataset directly runs the trainer's transforms with no DataLoader workers.
    return dataset.collate_fn([dataset[order[i % len(order)]] for i in range(n)]), data["names"]


def plot_batch(batch: dict, names: dict, out_path: Path, n: int) -> None:
    """Ultralytics' grid of a training batch with its boxes (written before returning)."""
    from ultralytics.utils.plotting import plot_images

    plot_images(labels=batch, paths=batch["im_file"], fname=out_path, names=names, max_subplots=n, threaded=False)
