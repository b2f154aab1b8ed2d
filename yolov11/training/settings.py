"""Training settings: one dataclass shared by the API, the CLI and the Train tab.

Defaults are the "quick look" preset: small enough that the demo set trains on a laptop CPU
in a few minutes, and a sensible start on a GPU. ``PRESETS`` holds the other two.
``problems()`` checks every field at once (the Train tab shows each message next to its
field); ``validate()`` raises the first as a UserError before anything starts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

from yolov11.errors import UserError
from yolov11.training import loggers

OPTIMIZERS = ("auto", "SGD", "Adam", "AdamW", "NAdam", "RAdam", "RMSProp")
CACHE = ("", "ram", "disk")
# Integer fields: (lowest, highest, why the highest). Upper bounds keep an absurd value from
# reaching Ultralytics, where it would allocate for minutes before failing.
INT_RANGES = {
    "epochs": (1, 100_000, "a longer run is better split into resumed runs"),
    "imgsz": (32, 4096, "a 4096 px batch of 16 is 3 GB of input before the model sees it"),
    "batch": (-1, 1024, "larger batches fit no single GPU at useful image sizes"),
    "close_mosaic": (0, 100_000, "epochs"),
    "patience": (1, 100_000, "epochs"),
    "workers": (0, 256, "data-loading processes"),
    "seed": (0, 2**32 - 1, "NumPy's seed range"),
    "nbs": (1, 65_536, "the nominal batch"),
}
# Float fields: (lowest, highest, lowest excluded). NaN and infinity are refused for all.
FLOAT_RANGES = {
    "lr0": (0.0, 10.0, True),
    "warmup_epochs": (0.0, 100_000.0, False),
    "fraction": (0.0, 1.0, True),
    "mosaic": (0.0, 1.0, False),
    "mixup": (0.0, 1.0, False),
    "fliplr": (0.0, 1.0, False),
    "scale": (0.0, math.inf, False),
    "hsv_h": (0.0, 1.0, False),
    "hsv_s": (0.0, 1.0, False),
    "hsv_v": (0.0, 1.0, False),
}
RESERVED_EXTRA = {"model", "data", "project", "name", "exist_ok", "resume", "save_dir", "pretrained"}  # where runs live is ours to say


@dataclass
class TrainSettings:
    model: str = "yolov11n"  # the smallest zoo model: trains on a CPU, a fair first baseline
    epochs: int = 12  # the demo set passes mAP50 0.9 from scratch in ~6 (bench/demo_learnability.py)
    imgsz: int = 320  # demo images are 320 px; use 640 for photos with small objects
    batch: int = 8  # small batches = more optimizer steps per CPU-minute on small datasets
    nbs: int | None = None  # nominal batch for gradient accumulation; None = batch (a step per batch)
    warmup_epochs: float = 1.0  # Ultralytics' 3 spends a quarter of a short run warming up
    close_mosaic: int = 3  # last epochs without mosaic, so the model sees whole images before the end
    device: str = "cpu"  # "cpu", "0" (first GPU), "cuda:0"; several ("0,1") train through torchrun
    workers: int = 0  # in-process loading: no fork inside the app's threads; raise on GPU boxes
    seed: int = 0  # same seed, same split and augmentation order
    deterministic: bool = True  # reproducible kernels where PyTorch has them
    patience: int = 50  # early stopping after this many epochs without improvement
    optimizer: str = "auto"  # Ultralytics picks AdamW for short runs, SGD for long ones
    lr0: float = 0.01  # initial learning rate (ignored by optimizer "auto", which sets its own)
    cos_lr: bool = False  # cosine instead of linear decay
    cache: str = ""  # "ram" or "disk" keeps decoded images: faster epochs on small sets
    fraction: float = 1.0  # train on this share of the training images (a quick look at a big set)
    mosaic: float = 1.0  # probability of 4-image mosaics: the strongest augmentation for detection
    mixup: float = 0.0  # probability of blending two images
    fliplr: float = 0.5  # probability of a horizontal flip
    scale: float = 0.5  # random zoom range (+/-)
    hsv_h: float = 0.015  # hue jitter
    hsv_s: float = 0.7  # saturation jitter
    hsv_v: float = 0.4  # brightness jitter
    loggers: str = ""  # "wandb", "mlflow" or both, when installed; TensorBoard is always on
    weights: str | None = None  # a .pt whose matching tensors initialise the model (pickle: trusted files only)
    extra: dict[str, Any] = field(default_factory=dict)  # any other Ultralytics train argument

    @classmethod
    def of(cls, model: str, **settings: Any) -> "TrainSettings":
        """Validated settings from keyword arguments; unknown keys go to ``extra`` (Ultralytics')."""
        known = set(cls.__dataclass_fields__) - {"model", "extra"}
        cfg = cls(model=str(model), **{k: v for k, v in settings.items() if k in known})
        cfg.extra = {k: v for k, v in settings.items() if k not in known}
        return cfg.validate()

    def problems(self) -> dict[str, str]:
        """Field name -> what is wrong with its value (empty when all is well)."""
        out: dict[str, str] = {}
        for name, (low, high, why) in INT_RANGES.items():
            value = getattr(self, name)
            if name == "nbs" and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < low or (name == "batch" and value == 0):
                out[name] = f"--{_flag(name)} {value}: must be " + ("a positive integer (or -1 for auto)" if name == "batch" else "a positive integer" if low > 0 else "0 or more")
            elif value > high:
                out[name] = f"--{_flag(name)} {value}: at most {high:,} ({why})"
        if "imgsz" not in out and self.imgsz % 32:
            out["imgsz"] = f"--imgsz {self.imgsz}: must be a multiple of 32 (the largest stride)"
        for name, (low, high, open_low) in FLOAT_RANGES.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                out[name] = f"--{_flag(name)} {value}: must be a finite number"
            elif name == "lr0" and value <= 0:
                out[name] = f"--lr0 {value}: the learning rate must be positive"
            elif value < low or value > high or (open_low and value == low):
                out[name] = f"--{_flag(name)} {value}: must be {_range_text(low, high)}"
        if self.optimizer not in OPTIMIZERS:
            out["optimizer"] = f"--optimizer {self.optimizer}: choose one of {', '.join(OPTIMIZERS)}"
        if (self.cache or "") not in CACHE:
            out["cache"] = f"--cache {self.cache}: use ram, disk or nothing"
        if loggers.problem(self.loggers):
            out["loggers"] = loggers.problem(self.loggers)
        try:
            normalize_device(self.device)
        except UserError as exc:
            out["device"] = str(exc)
        reserved = sorted(set(self.extra) & RESERVED_EXTRA)
        if reserved:
            out["extra"] = f"--extra {reserved[0]}: set by the workbench itself (the run's folder, data and model), not an extra argument"
        return out

    def validate(self) -> "TrainSettings":
        """Raise UserError naming the first field at fault, before anything starts."""
        problems = self.problems()
        if problems:
            raise UserError(next(iter(problems.values())))
        self.device = normalize_device(self.device)
        return self

    def record(self) -> dict[str, Any]:
        """What the registry keeps of a run's settings: the model, Ultralytics' arguments and the
        trackers (a resume needs all three)."""
        return {"model": self.model, **self.ultralytics_args(), "loggers": self.loggers}

    def ultralytics_args(self) -> dict[str, Any]:
        args = {k: v for k, v in asdict(self).items() if k not in ("model", "extra", "weights", "loggers")}
        if self.weights:
            args["pretrained"] = self.weights  # Ultralytics copies the tensors whose names and shapes match
        args["nbs"] = self.nbs or (self.batch if self.batch > 0 else 64)  # auto batch (-1): Ultralytics' 64
        args["amp"] = self.device != "cpu"  # AMP on GPU (checked offline); CPU has none
        args["cache"] = self.cache or False
        args.update(self.extra)
        return args


PRESETS: dict[str, dict[str, Any]] = {
    "quick look": {f.name: f.default for f in fields(TrainSettings) if f.name in ("epochs", "imgsz", "batch", "patience", "cos_lr", "mixup", "close_mosaic", "warmup_epochs")},
    "balanced": {"epochs": 60, "imgsz": 640, "batch": 16, "patience": 20, "cos_lr": False, "mixup": 0.0, "close_mosaic": 10, "warmup_epochs": 3.0},
    "best accuracy": {"epochs": 200, "imgsz": 640, "batch": 16, "patience": 50, "cos_lr": True, "mixup": 0.1, "close_mosaic": 15, "warmup_epochs": 3.0},
}


def trained_imgsz(train_args: object) -> int | None:
    """The image size a checkpoint says it was trained at, if it is one this app would train at
    (a .pt from elsewhere may claim 100000)."""
    value = train_args.get("imgsz") if isinstance(train_args, dict) else None
    low, high, _ = INT_RANGES["imgsz"]
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


def _range_text(low: float, high: float) -> str:
    if high == math.inf:
        return f"{low:g} or more"
    return f"between {low:g} and {high:g}"


def _flag(name: str) -> str:
    return name.replace("_", "-")


def normalize_device(device: str | int | None, present: bool = True) -> str:
    """'cpu', '0', 'cuda:0', '0,1' -> Ultralytics' form. ``present``: refuse GPUs this machine
    does not have (off for commands meant to run on other machines)."""
    text = str(device if device is not None else "cpu").strip().lower().replace("cuda:", "").replace(" ", "")
    if text in ("", "cpu"):
        return "cpu"
    ids = text.split(",")
    if not all(i.isdigit() for i in ids) or len(set(ids)) != len(ids):
        raise UserError(f"--device {device}: use 'cpu', a GPU index such as '0', or a list such as '0,1'")
    have = torch.cuda.device_count()
    missing = [i for i in ids if int(i) >= have]
    if present and missing:
        raise UserError(f"--device {device}: GPU {','.join(missing)} not found ({have} CUDA GPU(s) here); use --device cpu")
    return ",".join(ids)
