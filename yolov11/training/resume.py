"""Resume a stopped or interrupted run from its saved training state, optionally to more epochs.

A run keeps ``weights/resume.pt``: last.pt as saved after each epoch, optimizer included
(Ultralytics strips last.pt once training ends). A run killed mid-way has an unstripped
last.pt, which serves too. Resuming continues the same run folder, events.jsonl and registry
row: the epochs carry on from where they stopped.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from yolov11 import liveness
from yolov11.compat import offline
from yolov11.errors import UserError
from yolov11.training import distributed
from yolov11.training.events import EventLog
from yolov11.training.runner import record_failure, run_trainer, train_launched
from yolov11.training.state import RESUME_FILE, training_state
from yolov11.workspace import Workspace


def resumable_checkpoint(ws: Workspace, run_id: str) -> tuple[Path, dict]:
    """The checkpoint a run resumes from and its contents; UserError saying why when none."""
    record = ws.require_run(run_id)
    mine = record.get("owner") == liveness.token()  # the app's queue, resuming the run it queued
    if record["status"] in ("running", "queued") and not mine and not distributed.in_torchrun():  # rank 0 may have marked it already
        raise UserError(
            f"run {run_id} is {record['status']}"
            + (": stop it before resuming" if record["status"] == "running" else " (in the app's queue): wait for it, or stop it first")
        )
    try:
        return training_state(Path(record["dir"]) / "weights")
    except UserError as exc:
        raise UserError(f"run {run_id}: {exc}") from None


def resume_plan(ws: Workspace, run_id: str, epochs: int | None = None) -> tuple[Path, dict, int, int]:
    """(checkpoint, its contents, epochs done, epochs to reach): everything a resume needs,
    checked when it is asked for, so a resume that cannot run is refused at once."""
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise UserError(field="--epochs", value=epochs, detail="must be a positive integer")
    path, ckpt = resumable_checkpoint(ws, run_id)
    done, planned = ckpt["epoch"] + 1, ckpt["train_args"]["epochs"]
    target = epochs or planned
    if target <= done:
        raise UserError(f"run {run_id} has done {done} of {planned} epochs: pass --epochs N with N > {done} to train further")
    return path, ckpt, done, target


def resume(
    run_id: str,
    epochs: int | None = None,
    *,
    workspace: Workspace | str | Path | None = None,
    stop: threading.Event | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> dict:
    """Continue ``run_id`` to its planned epochs, or to ``epochs`` in all; returns as ``train``."""
    offline.prepare()
    import torch

    ws = Workspace.at(workspace)
    path, ckpt, done, target = resume_plan(ws, run_id, epochs)
    primary = distributed.is_primary()
    if target != ckpt["train_args"]["epochs"] and primary:  # Ultralytics takes epochs from the checkpoint: write the new plan into it
        ckpt["train_args"]["epochs"] = target
        path = path.with_name(RESUME_FILE)
        tmp = path.with_name(f".partial-{RESUME_FILE}")
        torch.save(ckpt, tmp)
        os.replace(tmp, path)
    record = ws.require_run(run_id)
    settings = record["settings"] or {}
    gpus = distributed.gpu_ids(settings.get("device", "cpu"))
    if primary:
        ws.update_run(run_id, settings={**settings, "epochs": target})
    stop = stop or threading.Event()
    cpu_ranks = 0 if gpus else int(record.get("world_size") or 1)  # a run several CPU ranks trained resumes on as many
    if (len(gpus) > 1 or cpu_ranks > 1) and not distributed.in_torchrun():  # the ranks resume under torchrun, as they trained
        launch = distributed.local_launch(settings["device"])
        if cpu_ranks > 1:
            launch.nproc_per_node = cpu_ranks
        cmd = distributed.torchrun_command(["--workspace", str(ws.root), "resume", "--run-id", run_id], launch)
        return train_launched(ws, run_id, cmd, stop, on_event)
    events = EventLog(ws.runs_dir / run_id / "events.jsonl" if primary else None, run_id, on_event)
    try:
        events.write("log", level="info", message=f"resuming from {path.name}: epoch {done + 1} of {target}")
        return run_trainer(ws, run_id, {"resume": str(path)}, events, stop, settings.get("loggers", ""))
    except BaseException as exc:
        record_failure(ws, run_id, events, primary, exc)
        raise
