"""Ultralytics' DetectionTrainer, and what our callbacks read of it while it runs.

Relies on: ``ultralytics.models.yolo.detect.DetectionTrainer(overrides=)``, ``add_callback``
and the event names (on_train_start, on_train_epoch_start, on_train_batch_end,
on_train_epoch_end, on_fit_epoch_end, on_model_save); trainer attributes ``epoch`` (0-based),
``epochs``, ``train_loader``, ``tloss`` + ``label_loss_items``, ``optimizer.param_groups``,
``batch_size``, ``epoch_time_start``, ``epoch_time``, ``device``, ``metrics``, ``stop`` (checked
right after on_train_batch_end), ``wdir``, ``last``, ``best``, ``world_size``; ``callbacks``
(event name -> list of functions) and ``utils.callbacks.tensorboard.on_train_start`` being the
TensorBoard integration's model-graph trace and nothing else (its scalars are logged from the
other events);
``data.utils.check_det_dataset`` for a data.yaml's image folders; and ``cfg/default.yaml``, the
file ``cfg.DEFAULT_CFG_DICT`` is loaded from, as the list of every argument the trainer takes
(``cfg.check_dict_alignment`` refuses any other key of ``overrides``).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yolov11.compat.results import short_losses, short_metrics

# TensorBoard's model graph: a torch.jit.trace of the whole model at train start, 3-7 s of a
# 60 s yolov11n run on 2 CPU cores (our events, callbacks and registry cost about 0.2 s of it).
# Off: the run folder keeps TensorBoard's losses, metrics and learning rates.
TENSORBOARD_GRAPH = False

EVENTS = ("on_train_start", "on_train_epoch_start", "on_train_batch_end", "on_train_epoch_end", "on_fit_epoch_end", "on_model_save")


class TrainerView:
    """The running trainer as our callbacks see it: plain numbers and paths."""

    def __init__(self, trainer):
        self._t = trainer

    @property
    def epoch(self) -> int:
        """The epoch in progress, counted from 1."""
        return self._t.epoch + 1

    @property
    def epochs(self) -> int:
        return self._t.epochs

    @property
    def batches(self) -> int:
        return len(self._t.train_loader)

    @property
    def device(self):
        return self._t.device

    def train_losses(self) -> dict[str, float]:
        return short_losses(self._t.label_loss_items(self._t.tloss, "train"))

    def val_losses(self) -> dict[str, float]:
        return short_losses(self._t.metrics or {}, "val")

    def metrics(self) -> dict[str, float]:
        return short_metrics(self._t.metrics or {})

    def lr(self) -> float:
        return round(float(self._t.optimizer.param_groups[0]["lr"]), 8)

    def images_per_s(self, batches_done: int) -> float:
        return round(batches_done * self._t.batch_size / max(time.time() - self._t.epoch_time_start, 1e-6), 2)

    def epoch_time_s(self) -> float:
        return round(float(getattr(self._t, "epoch_time", 0) or 0), 2)

    def request_stop(self) -> None:
        self._t.stop = True  # Ultralytics breaks out of the epoch right after on_train_batch_end

    @property
    def weights_dir(self) -> Path:
        return Path(self._t.wdir)

    @property
    def last(self) -> Path:
        return Path(self._t.last)


def detection_trainer(overrides: dict[str, Any], hooks: dict[str, Callable[[TrainerView], None]]):
    """A DetectionTrainer for ``overrides`` with ``hooks`` (event name -> fn(TrainerView))."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    trainer = DetectionTrainer(overrides=overrides)
    if not TENSORBOARD_GRAPH:
        _drop_tensorboard_graph(trainer)
    for name, hook in hooks.items():
        if name not in EVENTS:
            raise ValueError(f"unknown trainer event {name!r}")
        trainer.add_callback(name, lambda t, hook=hook: hook(TrainerView(t)))
    return trainer


def _drop_tensorboard_graph(trainer) -> None:
    """Leave out the TensorBoard integration's graph trace (its on_train_start); its scalars stay."""
    tensorboard = sys.modules.get("ultralytics.utils.callbacks.tensorboard")  # imported only when the integration was added
    graph = getattr(tensorboard, "on_train_start", None)
    if graph is not None:
        trainer.callbacks["on_train_start"] = [fn for fn in trainer.callbacks.get("on_train_start", []) if fn is not graph]


def finished(trainer) -> tuple[dict[str, float], Path]:
    """(final short metrics, best.pt else last.pt) of a trainer whose train() returned."""
    best = Path(trainer.best) if Path(trainer.best).is_file() else Path(trainer.last)
    return short_metrics(trainer.metrics or {}), best


def world_size(trainer) -> int:
    return trainer.world_size


def set_world_size(trainer, size: int) -> None:
    """Ultralytics counts the world as this machine's GPUs; across machines it is every rank."""
    trainer.world_size = size


def check_dataset(data_yaml: Path) -> dict:
    """Ultralytics' own check of a data.yaml: its image folders exist (never downloading)."""
    from ultralytics.data.utils import check_det_dataset

    return check_det_dataset(str(data_yaml), autodownload=False)


@functools.cache
def train_arguments() -> frozenset[str]:
    """Every argument Ultralytics' trainer takes: the keys of its default configuration. Read from
    the package's ``cfg/default.yaml`` without importing Ultralytics (and torch), so settings are
    checked as a request is made, in milliseconds."""
    import yaml

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Ultralytics is not installed (pip install -r requirements.txt)")
    default = Path(next(iter(spec.submodule_search_locations))) / "cfg" / "default.yaml"
    return frozenset(yaml.safe_load(default.read_text(encoding="utf-8")))  # Ultralytics' own file, not a stranger's
