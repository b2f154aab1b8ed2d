"""One training run: Ultralytics' DetectionTrainer, in process, with callbacks -> events.

``train`` registers the run, writes ``events.jsonl`` (a status line at start and end, batch
lines at most twice a second, one line per epoch, the trainer's log lines) and returns
``{"run", "dir", "status", "metrics"}``. A ``threading.Event`` passed as ``stop`` ends the run
within one batch: Ultralytics checks ``trainer.stop`` after every batch, validates, saves
last.pt and finishes as usual.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import shlex
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

from yolov11 import offline
from yolov11.errors import UserError
from yolov11.models import resolve_model, transfer_report
from yolov11.train import distributed, loggers
from yolov11.train.distributed import Launch
from yolov11.train.events import EventLog
from yolov11.train.settings import TrainSettings
from yolov11.workspace import Workspace

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ultralytics colours its log lines
RESUME_FILE = "resume.pt"  # weights/ copy of last.pt with optimizer state, for resume
BATCH_EVENT_INTERVAL = 0.5  # seconds: live enough for a chart, small files for long runs
METRIC_KEYS = {  # Ultralytics' result keys -> the short names of our events and tables
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "mAP50",
    "metrics/mAP50-95(B)": "mAP50-95",
}


def short_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {short: round(float(metrics[key]), 5) for key, short in METRIC_KEYS.items() if key in metrics}


class _LogToEvents(logging.Handler):
    """Ultralytics log lines from the training thread -> "log" events."""

    def __init__(self, events: EventLog):
        super().__init__(logging.INFO)
        self.events, self.thread = events, threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            for line in ANSI.sub("", self.format(record)).strip().splitlines():
                if line.strip():
                    self.events.write("log", level=record.levelname.lower(), message=line.rstrip())


class _Callbacks:
    """Trainer callbacks that turn progress into events and honour the stop flag."""

    def __init__(self, events: EventLog, stop: threading.Event, stop_file: Path | None = None):
        self.events, self.stop, self.stop_file = events, stop, stop_file  # stop_file: torchrun runs
        self.batch, self.last_batch_t, self.epoch_pending, self.t0 = 0, 0.0, False, time.time()

    def on_train_start(self, trainer) -> None:
        self.t0 = time.time()
        self.events.write("status", status="running", epochs=trainer.epochs)

    def on_train_epoch_start(self, trainer) -> None:
        self.batch = 0

    def on_train_batch_end(self, trainer) -> None:
        self.batch += 1
        nb = len(trainer.train_loader)
        now = time.time()
        if now - self.last_batch_t >= BATCH_EVENT_INTERVAL or self.batch == nb:
            self.last_batch_t = now
            done = trainer.epoch * nb + self.batch
            total = trainer.epochs * nb
            elapsed = now - self.t0
            self.events.write(
                "batch",
                epoch=trainer.epoch + 1,
                epochs=trainer.epochs,
                batch=self.batch,
                batches=nb,
                losses={k.split("/")[-1]: round(float(v), 5) for k, v in trainer.label_loss_items(trainer.tloss, "train").items()},
                lr=round(float(trainer.optimizer.param_groups[0]["lr"]), 8),
                images_per_s=round(self.batch * trainer.batch_size / max(now - trainer.epoch_time_start, 1e-6), 2),
                eta_s=round(elapsed / max(done, 1) * (total - done), 1),
                gpu_mem_gb=round(torch.cuda.memory_reserved() / 2**30, 2) if trainer.device.type == "cuda" else None,
            )
        # Checked last: a stop asked for while this batch was reported counts too.
        asked = self.stop.is_set() or (self.stop_file is not None and self.stop_file.exists())
        if distributed.in_torchrun():
            asked = distributed.stop_requested(asked, trainer.device)  # every rank leaves in this batch
        if asked:
            self.stop.set()
            trainer.stop = True  # Ultralytics breaks out right after this callback

    def on_model_save(self, trainer) -> None:
        # Ultralytics strips last.pt of its optimizer when training ends (also after a stop);
        # this copy keeps what resuming needs.
        shutil.copyfile(trainer.last, Path(trainer.wdir) / RESUME_FILE)

    def on_train_epoch_end(self, trainer) -> None:
        self.epoch_pending = True  # the next on_fit_epoch_end is this epoch's, not final_eval's

    def on_fit_epoch_end(self, trainer) -> None:
        if not self.epoch_pending:
            return
        self.epoch_pending = False
        metrics = trainer.metrics or {}
        self.events.write(
            "epoch",
            epoch=trainer.epoch + 1,
            epochs=trainer.epochs,
            train_losses={k.split("/")[-1]: round(float(v), 5) for k, v in trainer.label_loss_items(trainer.tloss, "train").items()},
            val_losses={k.split("/")[-1]: round(float(v), 5) for k, v in metrics.items() if k.startswith("val/")},
            metrics=short_metrics(metrics),
            lr=round(float(trainer.optimizer.param_groups[0]["lr"]), 8),
            epoch_time_s=round(float(getattr(trainer, "epoch_time", 0) or 0), 2),
        )


def train(
    data: str | Path,
    model: str = TrainSettings.model,
    *,
    workspace: Workspace | str | Path | None = None,
    run_id: str | None = None,
    stop: threading.Event | None = None,
    on_event: Callable[[dict], None] | None = None,
    launch: Launch | None = None,
    **settings: Any,
) -> dict:
    """Train ``model`` on ``data`` (a workspace dataset name or a data.yaml path).

    ``settings`` are TrainSettings fields (epochs, imgsz, batch, device, workers, seed,
    patience, weights) or any other Ultralytics train argument. Several GPUs (``device="0,1"``)
    or a ``launch`` (torchrun's nodes and processes) run the ranks under torchrun while this
    process follows the run's events. Returns ``{"run", "dir", "status", "metrics", "weights",
    "transfer"}``.
    """
    offline.prepare()
    ws = Workspace.at(workspace)
    cfg = TrainSettings.of(model, **settings)
    data_yaml = ws.resolve_data(data)
    model_src = resolve_model(model)
    dataset = str(data) if ws.dataset(str(data)) else str(data_yaml)
    run_id = run_id or ws.new_run_id(str(model))
    if launch is None and len(distributed.gpu_ids(cfg.device)) > 1:
        launch = distributed.local_launch(cfg.device)
    launching = launch is not None and not distributed.in_torchrun()
    if launching:
        distributed.check_launch(launch, cfg.device)
    primary = distributed.is_primary()
    # One record per run: node 0's launcher or rank 0 (other nodes' ranks only train).
    if primary and (not launching or launch.node_rank == 0) and ws.run(run_id) is None:
        ws.add_run(run_id, dataset, str(model), cfg.record())
    run_dir = ws.runs_dir / run_id
    stop = stop or threading.Event()
    if launching:
        argv = distributed.train_argv(ws.root, str(data), str(model), {**settings, "device": cfg.device}, run_id)
        return train_launched(ws, run_id, distributed.torchrun_command(argv, launch), stop, on_event, records=launch.node_rank == 0)
    events = EventLog(run_dir / "events.jsonl" if primary else None, run_id, on_event)
    transfer = None
    if cfg.weights:
        nc = len((yaml.safe_load(Path(data_yaml).read_text()) or {}).get("names") or [])
        transfer = transfer_report(str(model), cfg.weights, nc)
        events.write("log", level="info", message=f"initialising from {Path(cfg.weights).name}: {transfer['transferred']}/{transfer['total']} tensors transfer")
    overrides = {"model": model_src, "data": str(data_yaml), "project": str(ws.runs_dir), "name": run_id, "exist_ok": True, **cfg.ultralytics_args()}
    return {**run_trainer(ws, run_id, overrides, events, stop, cfg.loggers), "transfer": transfer}


def train_launched(ws: Workspace, run_id: str, cmd: list[str], stop: threading.Event, on_event: Callable[[dict], None] | None, records: bool = True) -> dict:
    """Run ``cmd`` (torchrun around ``python -m yolov11 train|resume``), follow the events its
    rank 0 writes, and return how the run ended, as ``train`` does; a failed run raises
    UserError with the end of the launch log, as a failed plain run raises. ``records``: this is
    node 0, whose rank 0 records the run (other nodes' ranks only train)."""
    run_dir = ws.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    if not records:
        code = distributed.run_launched(cmd, run_dir, stop, None)
        if code != 0:
            raise UserError(f"run {run_id}: torchrun exited with {code}: {distributed.log_tail(run_dir, 3)}")
        return {"run": run_id, "dir": str(run_dir), "status": "done", "metrics": {}, "weights": None, "transfer": None}
    EventLog(run_dir / "events.jsonl", run_id).write("log", level="info", message=f"launching: {shlex.join(cmd)}")
    code = distributed.run_launched(cmd, run_dir, stop, on_event)
    record = ws.require_run(run_id)
    if code != 0 and record["status"] in ("queued", "running"):  # the ranks died before recording an end
        message = f"torchrun exited with {code}: {distributed.log_tail(run_dir, 3)}"
        EventLog(run_dir / "events.jsonl", run_id, on_event).write("status", status="failed", error=message)
        ws.update_run(run_id, status="failed", metrics={"error": message})
        record = ws.require_run(run_id)
    if record["status"] == "failed":
        raise UserError(f"run {run_id}: {(record['metrics'] or {}).get('error') or 'failed'} (see {run_dir / distributed.LAUNCH_LOG})")
    weights = next((str(p) for p in (run_dir / "weights" / "best.pt", run_dir / "weights" / "last.pt") if p.is_file()), None)
    return {"run": run_id, "dir": str(run_dir), "status": record["status"], "metrics": record["metrics"] or {}, "weights": weights, "transfer": None}


def run_trainer(ws: Workspace, run_id: str, overrides: dict, events: EventLog, stop: threading.Event, trackers: str = "") -> dict:
    """Run Ultralytics' DetectionTrainer with our callbacks on a registered run (new or resumed)
    and record how it ended; returns ``{"run", "dir", "status", "metrics", "weights"}``."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    primary = distributed.is_primary()
    if primary:
        ws.update_run(run_id, status="running", pid=os.getpid())
    created_group = False
    distributed.stop_on_sigterm(stop)
    stop_file = ws.runs_dir / run_id / distributed.STOP_FILE if distributed.in_torchrun() and primary else None
    handler = _LogToEvents(events)
    logger = logging.getLogger("ultralytics")
    logger.addHandler(handler)
    trainer = None
    try:
        with loggers.enabled(trackers, ws.root):  # W&B / MLflow callbacks join at construction
            trainer = DetectionTrainer(overrides=overrides)
        distributed.adopt_world_size(trainer)
        created_group = distributed.ensure_process_group(trainer)
        hooks = _Callbacks(events, stop, stop_file)
        for name in ("on_train_start", "on_train_epoch_start", "on_train_batch_end", "on_train_epoch_end", "on_fit_epoch_end", "on_model_save"):
            trainer.add_callback(name, getattr(hooks, name))
        trainer.train()
        metrics = short_metrics(trainer.metrics or {})
        status = "stopped" if stop.is_set() else "done"
        best = trainer.best if Path(trainer.best).is_file() else trainer.last
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        events.write("status", status="failed", error=message)
        if primary:
            ws.update_run(run_id, status="failed", metrics={"error": message})
        if isinstance(exc, (FileNotFoundError, SyntaxError)) and not isinstance(exc, UserError):  # data or argument at fault
            raise UserError(f"run {run_id}: {message}") from exc
        raise
    finally:
        logger.removeHandler(handler)
        del trainer  # free the model, optimizer and dataloaders before the next run
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if created_group:
            torch.distributed.destroy_process_group()
    events.write("status", status=status, metrics=metrics, weights=str(best))
    if primary:
        ws.update_run(run_id, status=status, metrics=metrics)
    return {"run": run_id, "dir": str(ws.runs_dir / run_id), "status": status, "metrics": metrics, "weights": str(best)}
