"""Training settings: one dataclass shared by the API, the CLI and the Train tab.

Defaults are the "quick look" preset: small enough that the demo set trains on a laptop CPU
in a few minutes, and a sensible start on a GPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from yolov11.errors import UserError


@dataclass
class TrainSettings:
    model: str = "yolov11n"  # the smallest zoo model: trains on a CPU, a fair first baseline
    epochs: int = 12  # the demo set passes mAP50 0.9 from scratch in ~6 (bench/demo_learnability.py)
    imgsz: int = 320  # demo images are 320 px; use 640 for photos with small objects
    batch: int = 8  # small batches = more optimizer steps per CPU-minute on small datasets
    nbs: int | None = None  # nominal batch for gradient accumulation; None = batch (a step per batch)
    warmup_epochs: float = 1.0  # Ultralytics' 3 spends a quarter of a short run warming up
    close_mosaic: int = 3  # last epochs without mosaic, so the model sees whole images before the end
    device: str = "cpu"  # "cpu", "0" (first GPU), "cuda:0"; multi-GPU goes through torchrun
    workers: int = 0  # in-process loading: no fork inside the app's threads; raise on GPU boxes
    seed: int = 0  # same seed, same split and augmentation order
    patience: int = 50  # early stopping after this many epochs without improvement
    weights: str | None = None  # a .pt whose matching tensors initialise the model (pickle: trusted files only)
    extra: dict[str, Any] = field(default_factory=dict)  # any other Ultralytics train argument

    @classmethod
    def of(cls, model: str, **settings: Any) -> "TrainSettings":
        """Validated settings from keyword arguments; unknown keys go to ``extra`` (Ultralytics')."""
        known = set(cls.__dataclass_fields__) - {"model", "extra"}
        cfg = cls(model=str(model), **{k: v for k, v in settings.items() if k in known})
        cfg.extra = {k: v for k, v in settings.items() if k not in known}
        return cfg.validate()

    def validate(self) -> "TrainSettings":
        """Raise UserError naming the field at fault before anything starts."""
        for name in ("epochs", "imgsz", "batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or (value < 1 and not (name == "batch" and value == -1)):
                raise UserError(f"--{name} {value}: must be a positive integer" + (" (or -1 for auto)" if name == "batch" else ""))
        if self.imgsz % 32:
            raise UserError(f"--imgsz {self.imgsz}: must be a multiple of 32 (the largest stride)")
        if self.workers < 0:
            raise UserError(f"--workers {self.workers}: must be 0 or more")
        self.device = normalize_device(self.device)
        return self

    def ultralytics_args(self) -> dict[str, Any]:
        args = {k: v for k, v in asdict(self).items() if k not in ("model", "extra", "weights")}
        if self.weights:
            args["pretrained"] = self.weights  # Ultralytics copies the tensors whose names and shapes match
        args["nbs"] = self.nbs or (self.batch if self.batch > 0 else 64)  # auto batch (-1): Ultralytics' 64
        args["amp"] = self.device != "cpu"  # AMP on GPU (checked offline); CPU has none
        args.update(self.extra)
        return args


def normalize_device(device: str | int | None) -> str:
    """'cpu', '0', 'cuda:0' -> Ultralytics' form; refuses GPUs this machine does not have."""
    text = str(device if device is not None else "cpu").strip().lower().replace("cuda:", "")
    if text in ("", "cpu"):
        return "cpu"
    ids = text.split(",")
    if not all(i.isdigit() for i in ids):
        raise UserError(f"--device {device}: use 'cpu', a GPU index such as '0', or a list such as '0,1'")
    have = torch.cuda.device_count()
    missing = [i for i in ids if int(i) >= have]
    if missing:
        raise UserError(f"--device {device}: GPU {','.join(missing)} not found ({have} CUDA GPU(s) here); use --device cpu")
    if len(ids) > 1:
        raise UserError(f"--device {device}: multi-GPU training runs through torchrun, which this version does not launch yet")
    return text
