"""What a training run writes while it trains: Ultralytics' trainer callbacks -> events.jsonl.

``Callbacks`` turn the trainer's progress into events (a batch line at most twice a second, with
the ETA from this process's own pace; one line per epoch; a status line at start), honour the
stop flag within a batch and keep the resume checkpoint; ``LogToEvents`` turns the trainer's log
lines into "log" events in plain text, with a row per epoch under its table's header. Each callback
gets the running trainer as a ``TrainerView`` (compat.trainer): numbers and paths, no internals.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from yolov11 import checkpoints
from yolov11.compat import trainer as trainer_compat
from yolov11.compat.trainer import TrainerView
from yolov11.training import distributed, ranks
from yolov11.training.events import EventLog
from yolov11.training.state import RESUME_FILE

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ultralytics colours its log lines
# Ultralytics' own emoji (the set its utils.emojis() strips on Windows), with the space after one:
# a browser without an emoji font draws them as boxes (Debian's Chromium here).
EMOJI = re.compile("[\U0001F680\u2705\u274C\u26A0\U0001F4A1\u26A1\u23F1\u274E\u2754\U0001F603]\uFE0F? ?|\uFE0F")
BATCH_EVENT_INTERVAL = 0.5  # seconds: live enough for a chart, small files for long runs
# Ultralytics prints a row per epoch under its "Epoch GPU_mem box_loss ... Instances Size" header
# through its progress bar (not its logger), and the validation's header the same way: the log
# would read the validation's "all" row as that epoch's row. We write the epoch's row in the
# header's columns (its format: BaseTrainer's bar description) and the validator's header (its
# get_desc) before a validation's first row.
EPOCH_ROW = "%11s%11s{losses}%11s%11s"
VAL_HEADER = ("%22s" + "%11s" * 6) % ("Class", "Images", "Instances", "Box(P", "R", "mAP50", "mAP50-95)")
NUMBERS = r"( +([-+]?[\d.]+(e[-+]?\d+)?|nan)){6}$"  # a validation table row's numbers: images, instances, P, R, mAP50, mAP50-95
VAL_ALL_ROW = re.compile(r"^ *all" + NUMBERS)  # the first row of a validation's table: all classes
TABLE_ROW = re.compile(r"\S" + NUMBERS)  # a row of that table: a class, then its numbers


def _torch():
    """torch, imported when training needs it: ``import yolov11`` (and the app's start) does not load it."""
    import torch

    return torch


class LogToEvents(logging.Handler):
    """Ultralytics log lines from the training thread -> "log" events, in plain text: without
    colours or emoji, indented as printed (its tables line up in the Train tab's monospace box),
    a validation's table under its header."""

    def __init__(self, events: EventLog):
        super().__init__(logging.INFO)
        self.events, self.thread = events, threading.get_ident()
        self.in_table = False  # the last line was a validation table's header or row

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        level = record.levelname.lower()
        for line in EMOJI.sub("", ANSI.sub("", self.format(record))).splitlines():
            line = line.rstrip()
            if not line.strip():
                continue
            if VAL_ALL_ROW.match(line) and not self.in_table:
                self.events.write("log", level="info", message=VAL_HEADER)
                self.in_table = True
            self.in_table = self.in_table and bool(TABLE_ROW.search(line))
            self.events.write("log", level=level, message=line)


def _gpu_memory_gb(t: TrainerView) -> float:
    """What Ultralytics reports as GPU_mem: the CUDA memory reserved, 0 on a CPU."""
    return _torch().cuda.memory_reserved(t.device) / 2**30 if t.device.type == "cuda" else 0.0


class _Pace:
    """The time left, from this process's own pace: the mean time of the batches it ran (data
    loading included) and of what follows each epoch (validation, saving). A resumed run counts
    only the epochs it runs itself: the epochs before the resume took their time in another
    process, so dividing this process's time by them said 10 s where 320 s were left."""

    def __init__(self):
        self.batches, self.batch_s = 0, 0.0  # batches run here, and their time
        self.epoch_ends, self.epoch_end_s = 0, 0.0  # gaps between an epoch's last batch and the next epoch
        self.epoch_t: float | None = None  # when the current epoch began
        self.last_batch_t: float | None = None  # when its last batch so far ended

    def epoch_started(self) -> None:
        now = time.time()
        if self.last_batch_t is not None:
            self.epoch_ends += 1
            self.epoch_end_s += now - self.last_batch_t
        self.epoch_t, self.last_batch_t = now, None

    def batch_done(self) -> float:
        now = time.time()
        self.batches += 1
        self.batch_s += now - (self.last_batch_t or self.epoch_t or now)
        self.last_batch_t = now
        return now

    def eta_s(self, batches_left: int, epoch_ends_left: int) -> float:
        per_batch = self.batch_s / max(self.batches, 1)
        per_epoch_end = self.epoch_end_s / self.epoch_ends if self.epoch_ends else 0.0  # unknown until one epoch ended here
        return round(per_batch * batches_left + per_epoch_end * epoch_ends_left, 2)  # hundredths: a tiny run's batches take that


class Callbacks:
    """Trainer callbacks that turn progress into events and honour the stop flag; each gets the
    running trainer as a ``TrainerView`` (compat.trainer): numbers and paths, no internals."""

    def __init__(self, events: EventLog, stop: threading.Event, stop_file: Path | None = None, imgsz: int | None = None,
                 on_start: Callable[[dict], None] | None = None):
        self.events, self.stop, self.stop_file = events, stop, stop_file  # stop_file: torchrun runs
        self.on_start = on_start  # gets {"world_size", "ddp"} as training starts (the registry's record)
        self.imgsz = imgsz  # the epoch row's Size column
        self.batch, self.last_batch_t, self.epoch_pending = 0, 0.0, False
        self.stopped_mid_epoch: tuple[int, int, int] | None = None  # (epoch, batch, batches) of a stop before an epoch's end
        self.pace = _Pace()

    def hooks(self) -> dict:
        return {name: getattr(self, name) for name in trainer_compat.EVENTS}

    def on_train_start(self, t: TrainerView) -> None:
        world = {"world_size": distributed.world(), "ddp": t.ddp}  # ranks training one model together
        self.events.write("status", status="running", epochs=t.epochs, **world)
        if self.on_start is not None:
            self.on_start(world)
        ranks.record(t)

    def on_train_epoch_start(self, t: TrainerView) -> None:
        self.batch = 0
        self.pace.epoch_started()

    def on_train_batch_end(self, t: TrainerView) -> None:
        self.batch += 1
        nb = t.batches
        now = self.pace.batch_done()
        if now - self.last_batch_t >= BATCH_EVENT_INTERVAL or self.batch == nb:
            self.last_batch_t = now
            self.events.write(
                "batch",
                epoch=t.epoch,
                epochs=t.epochs,
                batch=self.batch,
                batches=nb,
                losses=t.train_losses(),
                lr=t.lr(),
                images_per_s=t.images_per_s(self.batch),
                eta_s=self.pace.eta_s(t.epochs * nb - ((t.epoch - 1) * nb + self.batch), t.epochs - t.epoch + 1),
                gpu_mem_gb=round(_gpu_memory_gb(t), 2) if t.device.type == "cuda" else None,
            )
        # Checked last: a stop asked for while this batch was reported counts too.
        asked = self.stop.is_set() or (self.stop_file is not None and self.stop_file.exists())
        if distributed.in_torchrun():
            asked = distributed.stop_requested(asked, t.device)  # every rank leaves in this batch
        if asked:
            self.stop.set()
            t.request_stop()
            if self.batch < nb and self.stopped_mid_epoch is None:
                self.stopped_mid_epoch = (t.epoch, self.batch, nb)

    def on_model_save(self, t: TrainerView) -> None:
        # Ultralytics strips last.pt of its optimizer when training ends (also after a stop);
        # this copy keeps what resuming needs. Copied then renamed: a crash mid-copy leaves the
        # previous epoch's file whole.
        resume_file = t.weights_dir / RESUME_FILE
        tmp = resume_file.with_name(f".partial-{RESUME_FILE}")
        shutil.copyfile(t.last, tmp)
        if self.stopped_mid_epoch and self.stopped_mid_epoch[0] > 1:
            mark_epoch_unfinished(tmp)
        os.replace(tmp, resume_file)
        if self.stopped_mid_epoch:
            epoch, batch, nb = self.stopped_mid_epoch
            note = (f"stopped after batch {batch} of {nb} in epoch {epoch}: resuming re-runs epoch {epoch}" if epoch > 1 else
                    f"stopped after batch {batch} of {nb} in epoch 1: resuming continues at epoch 2 "
                    "(Ultralytics cannot resume into a first epoch; start a new run to train it whole)")
            self.events.write("log", level="info", message=note)

    def on_train_epoch_end(self, t: TrainerView) -> None:
        self.epoch_pending = True  # the next on_fit_epoch_end is this epoch's, not final_eval's
        ranks.record(t, t.epoch)  # several ranks: each one's checksum after the epoch's last step
        losses = t.train_losses()
        if losses and self.batch:
            # Instances (the last batch's boxes) is not among the numbers the trainer keeps: "-".
            row = EPOCH_ROW.format(losses="%11.4g" * len(losses)) % (
                f"{t.epoch}/{t.epochs}", f"{_gpu_memory_gb(t):.3g}G", *losses.values(), "-", self.imgsz or "-")
            self.events.write("log", level="info", message=row)

    def on_fit_epoch_end(self, t: TrainerView) -> None:
        if not self.epoch_pending:
            return
        self.epoch_pending = False
        self.events.write(
            "epoch",
            epoch=t.epoch,
            epochs=t.epochs,
            train_losses=t.train_losses(),
            val_losses=t.val_losses(),
            metrics=t.metrics(),
            lr=t.lr(),
            epoch_time_s=t.epoch_time_s(),
        )


def mark_epoch_unfinished(path: Path) -> None:
    """Rewrite a checkpoint saved after a mid-epoch stop so that a resume starts that epoch again
    (Ultralytics resumes at the saved epoch + 1, which would skip the epoch's remaining batches)."""
    ckpt = checkpoints.load(path, "resume checkpoint")
    ckpt["epoch"] -= 1
    _torch().save(ckpt, path)
