"""Training jobs for a long-lived process (the app): a FIFO queue, one run at a time, stop.

Job state lives in the workspace registry and each run's events.jsonl, not in this object,
so a page reload or a second browser sees the same run. Runs the registry still calls
queued or running when a new ``TrainingJobs`` starts belong to a process that died: they
are marked ``interrupted``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path
from typing import Any

from yolov11.models import resolve_model
from yolov11.train.resume import resumable_checkpoint, resume
from yolov11.train.runner import train
from yolov11.train.settings import TrainSettings
from yolov11.workspace import Workspace

LOG = logging.getLogger("yolov11")


def _alive(pid: int | None) -> bool:
    """Whether another live process (a CLI run, say) owns the run."""
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TrainingJobs:
    def __init__(self, workspace: Workspace | str | Path | None = None):
        self.ws = Workspace.at(workspace)
        self._queue: queue.Queue[tuple[str, dict]] = queue.Queue()
        self._stops: dict[str, threading.Event] = {}
        for run in self.ws.runs():
            if run["status"] in ("queued", "running") and not _alive(run["pid"]):
                self.ws.update_run(run["id"], status="interrupted")
        threading.Thread(target=self._work, name="yolov11-training", daemon=True).start()

    def submit(self, data: str, model: str = TrainSettings.model, **settings: Any) -> str:
        """Validate, register as queued and enqueue; returns the run id at once."""
        cfg = TrainSettings.of(model, **settings)
        data_yaml = self.ws.resolve_data(data)
        resolve_model(model)
        run_id = self.ws.new_run_id(model)
        dataset = data if self.ws.dataset(data) else str(data_yaml)
        self.ws.add_run(run_id, dataset, model, {"model": model, **cfg.ultralytics_args()}, status="queued")
        self._stops[run_id] = threading.Event()
        self._queue.put((run_id, {"data": data, "model": model, **settings}))
        return run_id

    def resume(self, run_id: str, epochs: int | None = None) -> str:
        """Queue a stopped or interrupted run to continue (checked now, run in turn)."""
        resumable_checkpoint(self.ws, run_id)
        self.ws.update_run(run_id, status="queued")
        self._stops[run_id] = threading.Event()
        self._queue.put((run_id, {"resume": True, "epochs": epochs}))
        return run_id

    def stop(self, run_id: str) -> str:
        """Stop a running run within one batch, or cancel a queued one; returns the new status."""
        record = self.ws.require_run(run_id)
        if record["status"] == "queued":
            self.ws.update_run(run_id, status="stopped")
        event = self._stops.get(run_id)
        if event:
            event.set()
        return self.ws.require_run(run_id)["status"] if record["status"] != "running" else "stopping"

    def queued(self) -> list[str]:
        """Queued runs, first to start first."""
        return [r["id"] for r in sorted(self.ws.runs(), key=lambda r: r["created"]) if r["status"] == "queued"]

    def latest(self) -> str | None:
        """The running run, else the newest one: what a freshly opened page should show."""
        runs = self.ws.runs()
        running = [r["id"] for r in runs if r["status"] == "running"]
        return running[0] if running else (runs[0]["id"] if runs else None)

    def _work(self) -> None:
        while True:
            run_id, kwargs = self._queue.get()
            stop = self._stops[run_id]
            if stop.is_set():  # cancelled while queued
                continue
            try:
                if kwargs.pop("resume", False):
                    resume(run_id, kwargs["epochs"], workspace=self.ws, stop=stop)
                else:
                    train(workspace=self.ws, run_id=run_id, stop=stop, **kwargs)
            except Exception:  # recorded as "failed" in the registry and events by train()
                LOG.exception("training run %s failed", run_id)
            finally:
                self._stops.pop(run_id, None)
