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

Several CPU ranks (torchrun, gloo): Ultralytics wraps the model in DistributedDataParallel only
for GPUs (its ``world_size`` is 0 on a CPU, so ``_do_train`` skips its CUDA/NCCL ``_setup_ddp``
and ``_setup_train`` its GPU-only wrap). Our subclass wraps the model in ``_build_train_pipeline``
(called by ``_setup_train`` once the model is built) and sets ``world_size`` there, by which the
pipeline splits the batch before building the optimizer over the wrapped model; the loop scales the loss by ``world_size`` under
torchrun (DDP averages the gradients) and broadcasts the stop flags from rank 0; ``final_eval``
validates best.pt on every rank between ``torch_distributed_zero_first`` barriers, and a DDP
rank's validator (module-level ``RANK`` / ``LOCAL_RANK`` of ``engine.validator`` and
``models.yolo.detect.val`` != -1) puts the model on a GPU, meets the other ranks at barriers and
gathers their statistics: rank 0 validates as a single process would (on a val loader of its
own: the training's, ``validator.dataloader``, holds only rank 0's share), the others skip it.
"""

from __future__ import annotations

import contextlib
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
    def ddp(self) -> bool:
        """Whether the model is wrapped in DistributedDataParallel (gradients averaged over ranks)."""
        from torch.nn.parallel import DistributedDataParallel

        return isinstance(self._t.model, DistributedDataParallel)

    def rank_share(self) -> dict[str, int]:
        """What this rank reads of an epoch: its images, its batch size, its batches."""
        loader = self._t.train_loader
        return {"images": len(loader.sampler), "batch_size": int(loader.batch_size), "batches": len(loader)}

    def weights_checksum(self) -> str:
        """sha256 over the model's parameters (names, shapes, values), the same on every rank of a
        DDP run after each step. Buffers (BatchNorm's running statistics) are left out: each rank
        keeps its own, as DDP does without broadcast_buffers."""
        import hashlib

        from ultralytics.utils.torch_utils import unwrap_model

        h = hashlib.sha256()
        for name, p in unwrap_model(self._t.model).named_parameters():
            h.update(name.encode())
            h.update(str(tuple(p.shape)).encode())
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    @property
    def last(self) -> Path:
        return Path(self._t.last)


def detection_trainer(overrides: dict[str, Any], hooks: dict[str, Callable[[TrainerView], None]]):
    """A DetectionTrainer for ``overrides`` with ``hooks`` (event name -> fn(TrainerView))."""
    trainer = _trainer_class()(overrides=overrides)
    if not TENSORBOARD_GRAPH:
        _drop_tensorboard_graph(trainer)
    for name, hook in hooks.items():
        if name not in EVENTS:
            raise ValueError(f"unknown trainer event {name!r}")
        trainer.add_callback(name, lambda t, hook=hook: hook(TrainerView(t)))
    return trainer


@functools.cache
def _trainer_class():
    """DetectionTrainer, able to train as one of several CPU ranks (see the module's docstring)."""
    from torch.nn.parallel import DistributedDataParallel
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils.torch_utils import TORCH_2_13

    # BatchNorm's running statistics stay each rank's own after the start, as in Ultralytics' GPU DDP (torch 2.13 renamed the flag)
    rank_local_buffers = {"forward_sync_buffers" if TORCH_2_13 else "broadcast_buffers": False}

    class Trainer(DetectionTrainer):
        cpu_ranks = 0  # > 1: one of that many CPU ranks of a torchrun launch (use_cpu_ranks)

        def _build_train_pipeline(self):
            if self.cpu_ranks:
                self.world_size = self.cpu_ranks  # each rank reads its share of every batch
                if not isinstance(self.model, DistributedDataParallel):  # the pipeline is rebuilt on an OOM retry
                    self.model = DistributedDataParallel(self.model, find_unused_parameters=True, **rank_local_buffers)
            super()._build_train_pipeline()

        def final_eval(self):
            if not self.cpu_ranks:
                return super().final_eval()
            from ultralytics.utils import RANK

            if RANK != 0:  # rank 0 alone validates best.pt; the others only meet it at final_eval's barrier
                self.best = self.best.with_name("validated-on-rank-0.pt")
                return super().final_eval()
            self.validator.dataloader = None  # the training's val loader gives rank 0 only its share of the images
            with _as_one_process():
                return super().final_eval()

    return Trainer


@contextlib.contextmanager
def _as_one_process():
    """Validate on rank 0 as a single process would: a DDP rank's validator puts the model on a
    GPU, meets the other ranks at barriers and gathers their statistics (module-level RANK and
    LOCAL_RANK of the validator modules)."""
    from ultralytics.engine import validator
    from ultralytics.models.yolo.detect import val

    saved = [(m, m.RANK, m.LOCAL_RANK) for m in (validator, val)]
    try:
        for m, _, _ in saved:
            m.RANK = m.LOCAL_RANK = -1
        yield
    finally:
        for m, rank, local_rank in saved:
            m.RANK, m.LOCAL_RANK = rank, local_rank


def use_cpu_ranks(trainer, ranks: int) -> None:
    """Train as one of ``ranks`` (> 1) CPU processes: the model wrapped in DistributedDataParallel
    (gradients averaged over torchrun's gloo group), the batch split between the ranks."""
    trainer.cpu_ranks = ranks


def on_cpu(trainer) -> bool:
    return trainer.device.type == "cpu"


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
