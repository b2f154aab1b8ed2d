"""Training jobs for a long-lived process (the app): one run at a time per device, FIFO, stop.

Job state lives in the workspace registry and each run's events.jsonl, not in this object,
so a page reload or a second browser sees the same run. A new ``TrainingJobs`` first
reconciles the workspace (``Workspace.reconcile``): runs whose owning process died become
``interrupted`` or ``failed``. Everything a run needs is checked when it is asked for (settings,
data, model, starting weights, a resume's epochs), and any exception in a job's thread marks
its run ``failed`` with the message, so no run stays queued.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from yolov11.errors import UserError
from yolov11.training.distributed import gpu_ids
from yolov11.training.events import EventLog
from yolov11.training.request import TrainRequest
from yolov11.training.resume import resume, resume_plan
from yolov11.training.runner import record_failure, run_request
from yolov11.training.settings import TrainSettings
from yolov11.workspace import Workspace

LOG = logging.getLogger("yolov11")
RECONCILE_S = 60.0  # how often a long-lived app settles runs whose owner died
# A job's thread runs at this niceness (Linux: per thread; the threads it starts, torch's CPU
# pool included, inherit it), from YOLOV11_TRAINING_NICENESS; by default the app's own. A nicer
# training thread made the app slower, not faster (bench/load_status.py, 2026-12-05, alternating
# runs: p95 431 and 254 ms at +10 against 166 and 219 ms at 0, training 0.64-0.71x of its speed
# against 0.85-0.87x): the thread holds Python's lock while it is descheduled, and the app's
# requests wait for that lock, not for a core.
TRAINING_NICENESS_VAR = "YOLOV11_TRAINING_NICENESS"


def training_niceness() -> int:
    """The niceness YOLOV11_TRAINING_NICENESS asks for (0 to 19; anything else: 0, logged)."""
    raw = os.environ.get(TRAINING_NICENESS_VAR, "").strip()
    if raw.isdigit() and int(raw) <= 19:
        return int(raw)
    if raw:
        LOG.warning("%s=%s: not a niceness from 0 to 19; training runs at the app's priority", TRAINING_NICENESS_VAR, raw)
    return 0


def devices_of(device: str | None) -> frozenset[str]:
    """The devices a run occupies: its GPUs, or "cpu"."""
    return frozenset(gpu_ids(device or "cpu") or ["cpu"])


def startable(waiting: list[tuple[str, frozenset[str]]], busy: set[str]) -> list[str]:
    """Which waiting runs (oldest first) may start now: their devices are free and no older
    waiting run wants any of them (first come, first served on every device)."""
    claimed, out = set(busy), []
    for run_id, devices in waiting:
        if not devices & claimed:
            out.append(run_id)
        claimed |= devices  # a run that cannot start yet still holds its place in line
    return out


def lower_priority(niceness: int) -> None:
    """Make the calling thread ``niceness`` nicer than it is, where the system allows (Linux sets
    a thread's niceness on its own; elsewhere this would lower the whole process: left alone)."""
    if sys.platform.startswith("linux") and niceness > 0:
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
        except OSError:  # a container without the permission: the run trains at the app's priority
            LOG.debug("could not lower the training thread's priority", exc_info=True)


class TrainingJobs:
    """One training at a time per device; further runs wait their turn, first in first out."""

    def __init__(self, workspace: Workspace | str | Path | None = None):
        self.ws = Workspace.at(workspace)
        self._lock = threading.Lock()
        self._waiting: list[tuple[str, frozenset[str], dict]] = []  # oldest first
        self._busy: dict[str, frozenset[str]] = {}  # running run -> its devices
        self._stops: dict[str, threading.Event] = {}
        self.reconciled = self.ws.reconcile()  # what a previous process left: dead runs, scratch, unlisted datasets
        # and again every minute: a run whose owner still had a fresh heartbeat just now (a container
        # recreated within STALE_S) is settled once it goes stale, not at the next restart
        threading.Thread(target=self._reconcile_every, args=(RECONCILE_S,), name="yolov11-reconcile", daemon=True).start()

    def _reconcile_every(self, seconds: float) -> None:
        while True:
            time.sleep(seconds)
            if not self.ws.root.is_dir():  # the workspace went away (a test's temporary one): nothing to watch
                return
            try:
                self.ws.reconcile()
            except Exception:  # a full disk, a locked registry: the next pass tries again
                LOG.warning("reconciling the workspace failed", exc_info=True)

    def submit(self, data: str, model: str = TrainSettings.model, **settings: Any) -> str:
        """Validate, register as queued and enqueue; returns the run id at once."""
        return self.submit_request(TrainRequest.check(data, model, settings, self.ws, with_transfer=True))

    def submit_request(self, request: TrainRequest) -> str:
        """Register a checked request (``TrainRequest.check``) as queued and enqueue it; returns
        the run id at once. The job runs it as it is: nothing is checked twice."""
        if request.ws.root != self.ws.root:
            raise UserError(field="--workspace", value=request.ws.root, detail=f"this queue trains in {self.ws.root}")
        run_id = self.ws.new_run_id(request.model)
        self.ws.add_run(run_id, request.dataset, request.model, request.cfg.record(), status="queued")
        self._enqueue(run_id, devices_of(request.cfg.device), {"request": request})
        return run_id

    def resume(self, run_id: str, epochs: int | None = None) -> str:
        """Queue a stopped or interrupted run to continue (checked now, run in turn)."""
        if self.ws.require_run(run_id)["status"] == "queued":
            raise UserError(f"run {run_id} is already queued")
        resume_plan(self.ws, run_id, epochs)  # a finished run without more epochs is refused now, not in the job
        self.ws.own_run(run_id, status="queued")
        device = (self.ws.require_run(run_id)["settings"] or {}).get("device")
        self._enqueue(run_id, devices_of(device), {"resume": True, "epochs": epochs})
        return run_id

    def stop(self, run_id: str) -> str:
        """Stop a running run within one batch, or cancel a queued one; returns the new status."""
        record = self.ws.require_run(run_id)
        with self._lock:
            waiting = [w for w in self._waiting if w[0] == run_id]
            self._waiting = [w for w in self._waiting if w[0] != run_id]
        if record["status"] == "queued":
            self.ws.update_run(run_id, status="stopped")
        event = self._stops.pop(run_id, None) if waiting else self._stops.get(run_id)
        if event:
            event.set()  # a run handed to its thread a moment ago sees this before it starts
        if waiting:
            self._schedule()  # a cancelled run may have held others back
        return self.ws.require_run(run_id)["status"] if record["status"] != "running" else "stopping"

    def queued(self) -> list[str]:
        """Queued runs, first to start first."""
        return [r["id"] for r in sorted(self.ws.runs(), key=lambda r: r["created"]) if r["status"] == "queued"]

    def latest(self) -> str | None:
        """The running run, else the newest one: what a freshly opened page should show."""
        runs = self.ws.runs()
        running = [r["id"] for r in runs if r["status"] == "running"]
        return running[0] if running else (runs[0]["id"] if runs else None)

    def _enqueue(self, run_id: str, devices: frozenset[str], kwargs: dict) -> None:
        self._stops[run_id] = threading.Event()
        with self._lock:
            self._waiting.append((run_id, devices, kwargs))
        self._schedule()

    def _schedule(self) -> None:
        with self._lock:
            ready = set(startable([(r, d) for r, d, _ in self._waiting], set().union(*self._busy.values())))
            starting = [w for w in self._waiting if w[0] in ready]
            self._waiting = [w for w in self._waiting if w[0] not in ready]
            for run_id, devices, _ in starting:
                self._busy[run_id] = devices
        for run_id, _, kwargs in starting:
            threading.Thread(target=self._run, args=(run_id, kwargs), name=f"yolov11-training-{run_id}", daemon=True).start()

    def _advise(self, run_id: str) -> None:
        """What to fix next, worked out as an app training ends (run_status' "advice")."""
        from yolov11.advice.advisor import advise_at_end

        advise_at_end(run_id, self.ws)

    def _run(self, run_id: str, kwargs: dict) -> None:
        stop = self._stops.get(run_id) or threading.Event()
        lower_priority(training_niceness())
        try:
            if stop.is_set():  # cancelled between being scheduled and starting
                return
            if kwargs.pop("resume", False):
                resume(run_id, kwargs["epochs"], workspace=self.ws, stop=stop)
            else:
                run_request(kwargs["request"], run_id=run_id, stop=stop, before_done=self._advise)
        except Exception as exc:  # train() and resume() record their own ends; this catches the rest
            # the server's log; users see the run's status
            (LOG.warning if isinstance(exc, UserError) else LOG.exception)("training run %s failed: %s", run_id, exc)
            record_failure(self.ws, run_id, EventLog(self.ws.runs_dir / run_id / "events.jsonl", run_id), True, exc)
        finally:
            self._stops.pop(run_id, None)
            with self._lock:
                self._busy.pop(run_id, None)
            self._schedule()
