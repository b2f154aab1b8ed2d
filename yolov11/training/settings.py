"""Training settings: one dataclass shared by the API, the CLI and the Train tab.

Defaults are the "quick look" preset: small enough that the demo set trains on a laptop CPU
in a few minutes, and a sensible start on a GPU. ``PRESETS`` holds the other two. Each field
carries its label, help, range or choices (``setting``): the CLI's flags and help, the Train
tab's form and ``problems()`` all read them there. ``problems()`` checks every field at once
(the Train tab shows each message next to its field); ``validate()`` raises the first as a
UserError before anything starts.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from yolov11.errors import UserError
from yolov11.machine import usable_cpus
from yolov11.training import loggers

OPTIMIZERS = ("auto", "SGD", "Adam", "AdamW", "NAdam", "RAdam", "RMSProp")
CACHE = ("", "ram", "disk")
RESERVED_EXTRA = {"model", "data", "project", "name", "exist_ok", "resume", "save_dir", "pretrained"}  # where runs live is ours to say


def setting(default: Any, label: str, help: str, *, kind: type | None = None, low: float | None = None, high: float | None = None,
            why: str = "", open_low: bool = False, choices: tuple | None = None) -> Any:
    """A TrainSettings field with what every view derives from it: the form's ``label``, the
    ``help`` (CLI --help, the form's info), and for numbers their ``kind`` and range (``low``,
    ``high`` with ``why`` the high bound exists; ``open_low``: low itself refused) or ``choices``.
    Upper bounds keep an absurd value from reaching Ultralytics, where it would allocate for
    minutes before failing; NaN and infinity are refused for every number."""
    meta = {"label": label, "help": help, "kind": kind, "low": low, "high": high, "why": why, "open_low": open_low, "choices": choices}
    return field(default_factory=default, metadata=meta) if callable(default) else field(default=default, metadata=meta)


@dataclass
class TrainSettings:
    model: str = setting(
        "yolov11n", "Model",
        "a zoo name (yolov11n, yolov11s-cbam, ...), a model YAML or a .pt; the smallest zoo model trains on a CPU, a fair first baseline",
    )
    epochs: int = setting(
        12, "Epochs",
        "passes over the training images (the demo set passes mAP50 0.9 from scratch in about 6)",
        kind=int, low=1, high=100_000, why="a longer run is better split into resumed runs",
    )
    imgsz: int = setting(
        320, "Image size",
        "pixels of the longer side, a multiple of 32 (the demo images are 320 px; 640 for photos with small objects)",
        kind=int, low=32, high=4096, why="a 4096 px batch of 16 is 3 GB of input before the model sees it",
    )
    batch: int = setting(
        8, "Batch",
        "images per optimizer step, -1 for Ultralytics' auto batch (small batches: more steps per CPU-minute on small datasets)",
        kind=int, low=-1, high=1024, why="larger batches fit no single GPU at useful image sizes",
    )
    nbs: int | None = setting(
        None, "Nominal batch for gradient accumulation (0 = the batch)",
        "the nominal batch: gradients accumulate until this many images (default: the batch, a step per batch)",
        kind=int, low=1, high=65_536, why="the nominal batch",
    )
    warmup_epochs: float = setting(
        1.0, "Warm-up epochs",
        "epochs of learning-rate warm-up (Ultralytics' 3 spends a quarter of a short run warming up)",
        kind=float, low=0.0, high=100_000.0,
    )
    close_mosaic: int = setting(
        3, "Epochs without mosaic at the end",
        "last epochs without mosaic, so the model sees whole images before the end",
        kind=int, low=0, high=100_000, why="epochs",
    )
    device: str = setting("cpu", "Device", "cpu, a GPU index such as 0, or 0,1 for several GPUs (torchrun)")
    workers: int = setting(
        0, "Data-loading workers",
        "0 loads in process on a CPU (no fork inside the app's threads); on a GPU, 0 means one per usable CPU core (up to 16 per GPU)",
        kind=int, low=0, high=256, why="data-loading processes",
    )
    seed: int = setting(
        0, "Seed",
        "same seed, same split and augmentation order",
        kind=int, low=0, high=2**32 - 1, why="NumPy's seed range",
    )
    deterministic: bool = setting(True, "Deterministic", "reproducible kernels where PyTorch has them")
    patience: int = setting(
        50, "Early-stop patience (epochs)",
        "stop after this many epochs without improvement",
        kind=int, low=1, high=100_000, why="epochs",
    )
    optimizer: str = setting(
        "auto", "Optimizer",
        "auto lets Ultralytics pick (AdamW for short runs, SGD for long ones)",
        choices=OPTIMIZERS,
    )
    lr0: float = setting(
        0.01, "Initial learning rate (auto picks its own)",
        "the initial learning rate (ignored by optimizer auto, which sets its own)",
        kind=float, low=0.0, high=10.0, open_low=True,
    )
    cos_lr: bool = setting(False, "Cosine LR schedule", "cosine instead of linear decay")
    cache: str = setting(
        "", "Cache images",
        "ram or disk keeps decoded images: faster epochs on small sets (on one GPU, nothing means ram when the images fit in free memory)",
        choices=CACHE,
    )
    fraction: float = setting(
        1.0, "Fraction of training images",
        "train on this share of the training images (a quick look at a big set)",
        kind=float, low=0.0, high=1.0, open_low=True,
    )
    mosaic: float = setting(
        1.0, "Mosaic",
        "probability of 4-image mosaics: the strongest augmentation for detection",
        kind=float, low=0.0, high=1.0,
    )
    mixup: float = setting(0.0, "MixUp", "probability of blending two images", kind=float, low=0.0, high=1.0)
    fliplr: float = setting(0.5, "Horizontal flip", "probability of a horizontal flip", kind=float, low=0.0, high=1.0)
    scale: float = setting(0.5, "Scale jitter", "random zoom range (+/-)", kind=float, low=0.0, high=math.inf)
    hsv_h: float = setting(0.015, "Hue", "hue jitter", kind=float, low=0.0, high=1.0)
    hsv_s: float = setting(0.7, "Saturation", "saturation jitter", kind=float, low=0.0, high=1.0)
    hsv_v: float = setting(0.4, "Brightness", "brightness jitter", kind=float, low=0.0, high=1.0)
    loggers: str = setting(
        "", "Also log to (when installed; TensorBoard always logs)",
        "wandb, mlflow or both, when installed; TensorBoard is always on",
    )
    weights: str | None = setting(
        None, "Start from weights (.pt, optional)",
        "a .pt whose matching tensors initialise the model (read by the restricted unpickler)",
    )
    extra: dict[str, Any] = setting(
        dict, "Other Ultralytics arguments",
        "any other Ultralytics train argument, as a JSON object (keys: Ultralytics' own argument names)",
    )

    @classmethod
    def of(cls, model: str, **settings: Any) -> "TrainSettings":
        """Validated settings from keyword arguments; unknown keys go to ``extra`` (Ultralytics')."""
        known = set(cls.__dataclass_fields__) - {"model", "extra"}
        cfg = cls(model=str(model), **{k: v for k, v in settings.items() if k in known})
        cfg.extra = {k: v for k, v in settings.items() if k not in known}
        return cfg.validate()

    def problems(self) -> dict[str, str]:
        """Field name -> what is wrong with its value (empty when all is well), each rule read from
        the fields' metadata (``setting``)."""
        return {name: str(error) for name, error in self.errors().items()}

    def errors(self) -> dict[str, UserError]:
        """``problems()`` as UserErrors, each with its ``field`` (the flag), ``value`` and ``detail``."""
        out: dict[str, UserError] = {}
        for f in fields(self):
            meta, value, flag = f.metadata, getattr(self, f.name), f"--{_flag(f.name)}"
            if meta.get("kind") is int and not (f.name == "nbs" and value is None):
                if not isinstance(value, int) or isinstance(value, bool) or value < meta["low"] or (f.name == "batch" and value == 0):
                    out[f.name] = UserError(field=flag, value=value, detail="must be " + (
                        "a positive integer (or -1 for auto)" if f.name == "batch"
                        else "a positive integer" if meta["low"] > 0
                        else "0 or more"))
                elif value > meta["high"]:
                    out[f.name] = UserError(field=flag, value=value, detail=f"at most {meta['high']:,} ({meta['why']})")
            elif meta.get("kind") is float:
                if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                    out[f.name] = UserError(field=flag, value=value, detail="must be a finite number")
                elif f.name == "lr0" and value <= 0:
                    out[f.name] = UserError(field="--lr0", value=value, detail="the learning rate must be positive")
                elif value < meta["low"] or value > meta["high"] or (meta["open_low"] and value == meta["low"]):
                    out[f.name] = UserError(field=flag, value=value, detail=f"must be {_range_text(meta['low'], meta['high'])}")
            elif meta.get("choices") is not None and (value or "") not in meta["choices"]:
                out[f.name] = UserError(
                    field=flag, value=value, detail=f"choose one of {', '.join(c or 'nothing' for c in meta['choices'])}"
                )
        if "imgsz" not in out and self.imgsz % 32:
            out["imgsz"] = UserError(field="--imgsz", value=self.imgsz, detail="must be a multiple of 32 (the largest stride)")
        if loggers.problem(self.loggers):
            out["loggers"] = UserError(loggers.problem(self.loggers))
        try:
            normalize_device(self.device)
        except UserError as exc:
            out["device"] = exc
        reserved = sorted(set(self.extra) & RESERVED_EXTRA)
        if reserved:
            out["extra"] = UserError(
                field="--extra", value=reserved[0],
                detail="set by the workbench itself (the run's folder, data and model), not an extra argument",
            )
        elif self.extra:
            unknown = unknown_extra(self.extra)
            if unknown:
                out["extra"] = UserError(unknown)
        return out

    def validate(self) -> "TrainSettings":
        """Raise UserError naming the first field at fault, before anything starts."""
        errors = self.errors()
        if errors:
            raise next(iter(errors.values()))
        self.device = normalize_device(self.device)
        return self

    def record(self) -> dict[str, Any]:
        """What the registry keeps of a run's settings: the model, Ultralytics' arguments and the
        trackers (a resume needs all three)."""
        return {"model": self.model, **self.ultralytics_args(), "loggers": self.loggers}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "TrainSettings":
        """The settings a run was started with, read back from what ``record()`` wrote: the one
        inverse of ``record()`` (the notebook, the Train form and "Retrain on this version" use
        it), so ``TrainSettings.from_record(s.record()).record() == s.record()``. Values derived
        at record time go back to what derives them (``pretrained`` -> ``weights``, a ``nbs``
        equal to the batch -> None, ``cache`` False -> ""); ``amp`` follows the device; any other
        key is an Ultralytics argument (``extra``). Not validated: an older record may hold
        values this version refuses, which ``of()`` then names."""
        known = {f.name for f in fields(cls)} - {"extra", "weights"}
        values = {k: v for k, v in record.items() if k in known}
        batch = values.get("batch", cls.batch)
        if values.get("nbs") == (batch if isinstance(batch, int) and batch > 0 else 64):
            values["nbs"] = None
        if values.get("cache") is False or values.get("cache") is None:
            values["cache"] = ""
        elif values.get("cache") is True:
            values["cache"] = "ram"
        extra = {k: v for k, v in record.items() if k not in known and k not in ("pretrained", "amp")}
        return cls(**values, weights=record.get("pretrained"), extra=extra)

    def keywords(self) -> dict[str, Any]:
        """These settings as keywords of ``yolov11.train`` besides ``data`` and ``model``
        (``TrainSettings.of(model, **s.keywords())`` gives them back): every field, then the
        extra arguments; ``weights`` and ``nbs`` only when set."""
        out = {k: v for k, v in asdict(self).items() if k not in ("model", "extra") and not (k in ("weights", "nbs") and v is None)}
        return {**out, **self.extra}

    def ultralytics_args(self) -> dict[str, Any]:
        args = {k: v for k, v in asdict(self).items() if k not in ("model", "extra", "weights", "loggers")}
        if self.weights:
            args["pretrained"] = self.weights  # Ultralytics copies the tensors whose names and shapes match
        args["nbs"] = self.nbs or (self.batch if self.batch > 0 else 64)  # auto batch (-1): Ultralytics' 64
        args["amp"] = self.device != "cpu"  # AMP on GPU (checked offline); CPU has none
        args["cache"] = self.cache or False
        if self.device != "cpu":
            args.update(gpu_defaults(self.device, self.workers, self.cache))
        args.update(self.extra)
        return args


def run_keywords(record: dict[str, Any]) -> dict[str, Any]:
    """A run's recorded settings (``TrainSettings.record``) as ``yolov11.train`` keywords besides
    ``data`` and ``model`` (``yolov11.run_train_kwargs``): what its notebook replays and "Retrain
    on this version" starts again."""
    return TrainSettings.from_record(record).keywords()


def unknown_extra(extra: dict) -> str | None:
    """What is wrong with the first key of ``extra`` that is not an Ultralytics train argument
    (their list: Ultralytics' own config, ``compat.trainer.train_arguments``), with the close
    matches; None when every key is one. The key is quoted when it is not a plain name, so the
    message stays one line whatever it holds."""
    import difflib

    from yolov11.compat.trainer import train_arguments

    known = train_arguments()
    unknown = [k for k in extra if not isinstance(k, str) or k not in known]
    if not unknown:
        return None
    key = str(unknown[0])
    shown = key if key.isidentifier() and key.isascii() else json.dumps(key)[:80] + ("..." if len(json.dumps(key)) > 80 else "")
    close = difflib.get_close_matches(key, sorted(known - RESERVED_EXTRA), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else "the train arguments are listed at docs.ultralytics.com/usage/cfg"
    return f"--extra {shown}: not an Ultralytics train argument ({hint})"


def gpu_defaults(device: str, workers: int, cache: str) -> dict[str, Any]:
    """What a GPU run gets where the settings were left at their (CPU) defaults: data-loading
    workers from the usable CPU cores shared among the run's GPUs (at most 16 each: Ultralytics
    keeps them alive across epochs), and on one GPU a RAM cache of the decoded images, which
    Ultralytics takes only when they fit in the free memory twice over (else it trains uncached
    and says so). Several GPUs get no default cache: each rank would cache its own copy. AMP
    is on for every GPU run (``ultralytics_args``); channels_last is Ultralytics' own default on
    CUDA. An explicit ``extra`` {"workers": 0} or {"cache": false} still wins."""
    gpus = max(1, len(device.split(",")))
    out: dict[str, Any] = {}
    if workers == 0:
        out["workers"] = max(1, min(16, usable_cpus() // gpus))
    if not cache and gpus == 1:
        out["cache"] = "ram"
    return out


PRESETS: dict[str, dict[str, Any]] = {
    "quick look": {
        f.name: f.default for f in fields(TrainSettings)
        if f.name in ("epochs", "imgsz", "batch", "patience", "cos_lr", "mixup", "close_mosaic", "warmup_epochs")
    },
    "balanced": {
        "epochs": 60, "imgsz": 640, "batch": 16, "patience": 20, "cos_lr": False, "mixup": 0.0, "close_mosaic": 10, "warmup_epochs": 3.0
    },
    "best accuracy": {
        "epochs": 200, "imgsz": 640, "batch": 16, "patience": 50, "cos_lr": True, "mixup": 0.1, "close_mosaic": 15, "warmup_epochs": 3.0
    },
}


def trained_imgsz(train_args: object) -> int | None:
    """The image size a checkpoint says it was trained at, if it is one this app would train at
    (a .pt from elsewhere may claim 100000)."""
    value = train_args.get("imgsz") if isinstance(train_args, dict) else None
    meta = TrainSettings.__dataclass_fields__["imgsz"].metadata
    low, high = meta["low"], meta["high"]
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


def describe_field(name: str) -> dict:
    """What a view shows of a field: {"label", "help", "default", "choices", "range"}."""
    f = TrainSettings.__dataclass_fields__[name]
    meta = f.metadata
    default = f.default_factory() if callable(f.default_factory) else f.default
    span = None if meta.get("low") is None else _range_text(meta["low"], meta["high"])
    return {"label": meta["label"], "help": meta["help"], "default": default, "choices": meta.get("choices"), "range": span}


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
        raise UserError(field="--device", value=device, detail="use 'cpu', a GPU index such as '0', or a list such as '0,1'")
    import torch  # here, not at import: `import yolov11` (and the app's start) does not load torch

    have = torch.cuda.device_count()
    missing = [i for i in ids if int(i) >= have]
    if present and missing:
        raise UserError(
            field="--device", value=device, detail=f"GPU {','.join(missing)} not found ({have} CUDA GPU(s) here); use --device cpu"
        )
    return ",".join(ids)
