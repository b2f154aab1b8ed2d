"""Resume a stopped or interrupted run from its saved training state, optionally to more epochs.

A run keeps ``weights/resume.pt``: last.pt as saved after each epoch, optimizer included
(Ultralytics strips last.pt once training ends). A run killed mid-way has an unstripped
last.pt, which serves too. Resuming continues the same run folder, events.jsonl and registry
row: the epochs carry on from where they stopped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from yolov11 import offline
from yolov11.errors import UserError
from yolov11.train.events import EventLog
from yolov11.train import distributed
from yolov11.train.runner import RESUME_FILE, run_trainer, train_launched
from yolov11.workspace import Workspace


def resumable_checkpoint(ws: Workspace, run_id: str) -> tuple[Path, dict]:
    """The checkpoint a run resumes from and its contents; UserError saying why when none."""
    import torch

    record = ws.require_run(run_id)
    if record["status"] == "running" and not distributed.in_torchrun():  # rank 0 may have marked it already
        raise UserError(f"run {run_id} is running: stop it before resuming")
    weights = Path(record["dir"]) / "weights"
    for path in (weights / RESUME_FILE, weights / "last.pt"):
        if path.is_file():
            ckpt = torch.load(path, map_location="cpu", weights_only=False)  # our own run's file
            if ckpt.get("optimizer") is not None and ckpt.get("epoch", -1) >= 0:
                return path, ckpt
    raise UserError(f"run {run_id}: no training state to resume in {weights} (start a new run with --weights {weights / 'last.pt'})")


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
    path, ckpt = resumable_checkpoint(ws, run_id)
    done, planned = ckpt["epoch"] + 1, ckpt["train_args"]["epochs"]
    target = epochs or planned
    if target <= done:
        raise UserError(f"run {run_id} has done {done} of {planned} epochs: pass --epochs N with N > {done} to train further")
    primary = distributed.is_primary()
    if target != planned and primary:  # Ultralytics takes epochs from the checkpoint: write the new plan into it
        ckpt["train_args"]["epochs"] = target
        path = path.with_name(RESUME_FILE)
        torch.save(ckpt, path)
    settings = ws.require_run(run_id)["settings"] or {}
    gpus = distributed.gpu_ids(settings.get("device", "cpu"))
    if primary:
        ws.update_run(run_id, settings={**settings, "epochs": target})
    stop = stop or threading.Event()
    if len(gpus) > 1 and not distributed.in_torchrun():  # the ranks resume under torchrun, as they trained
        cmd = distributed.torchrun_command(["--workspace", str(ws.root), "resume", "--run", run_id], distributed.local_launch(settings["device"]))
        return train_launched(ws, run_id, cmd, stop, on_event)
    events = EventLog(ws.runs_dir / run_id / "events.jsonl" if primary else None, run_id, on_event)
    events.write("log", level="info", message=f"resuming from {path.name}: epoch {done + 1} of {target}")
    return run_trainer(ws, run_id, {"resume": str(path)}, events, stop, settings.get("loggers", ""))
