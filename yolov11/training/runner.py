"""One training run: Ultralytics' DetectionTrainer, in process, with callbacks -> events
(training/callbacks.py).

``train`` registers the run, writes ``events.jsonl`` (a status line at start and end, batch
lines at most twice a second, one line per epoch, the trainer's log lines with a row per epoch
under its table's header, in plain text) and returns
``{"run", "dir", "status", "metrics"}``. A ``threading.Event`` passed as ``stop`` ends the run
within one batch: Ultralytics checks ``trainer.stop`` after every batch, validates, saves
last.pt and finishes as usual.
"""

from __future__ import annotations

import gc
import logging
import shlex
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yolov11 import checkpoints, liveness
from yolov11.compat import trainer as trainer_compat
from yolov11.errors import UserError, os_error_text, plain
from yolov11.training import distributed, loggers
from yolov11.training.callbacks import Callbacks, LogToEvents, _torch
from yolov11.training.distributed import Launch
from yolov11.training.events import EventLog
from yolov11.training.request import TrainRequest, launches
from yolov11.training.settings import TrainSettings
from yolov11.workspace import Workspace, best_weights

_long_lived_frozen = False


def freeze_long_lived() -> None:
    """Once per process, before its first trainer is built: collect, then move every object alive
    now (the modules torch, Ultralytics and the app imported: some 400,000 objects) into the
    collector's permanent generation. Each full collection then walks only what was made since:
    the one Ultralytics runs as training ends and ours after it (``run_trainer``) took 0.5-1 s
    each on 2 cores, and now take milliseconds. A run's own objects (model, optimizer, data
    loaders) are made after this and are freed as before."""
    global _long_lived_frozen
    if not _long_lived_frozen:
        _long_lived_frozen = True
        gc.collect()
        gc.freeze()


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
    request = TrainRequest.check(data, model, settings, workspace, launch)
    return run_request(request, run_id=run_id, stop=stop, on_event=on_event, launch=launch)


def run_request(request: TrainRequest, *, run_id: str | None = None, stop: threading.Event | None = None,
                on_event: Callable[[dict], None] | None = None, launch: Launch | None = None,
                before_done: Callable[[str], None] | None = None) -> dict:
    """Run a checked request (``TrainRequest.check``): registers the run unless it is registered
    (the app's queue registers it when queued), then trains in this process or launches torchrun.
    Nothing is checked again here. ``before_done(run_id)``: called when training ended well,
    before the run is recorded done (the app's queue works out what to fix next there)."""
    ws, cfg, model = request.ws, request.cfg, request.model
    run_id = run_id or ws.new_run_id(model)
    launching = launches(cfg.device, launch)
    if launching and launch is None:
        launch = distributed.local_launch(cfg.device)
    if launching:
        distributed.check_launch(launch, cfg.device)
    transfer = None if launching else request.transfer  # the ranks report it themselves
    primary = distributed.is_primary()
    # One record per run: node 0's launcher or rank 0 (other nodes' ranks only train).
    if primary and (not launching or launch.node_rank == 0) and ws.run(run_id) is None:
        ws.add_run(run_id, request.dataset, model, cfg.record())
    run_dir = ws.runs_dir / run_id
    stop = stop or threading.Event()
    events = EventLog(run_dir / "events.jsonl" if primary else None, run_id, on_event)
    try:
        if launching:
            trusted = [p for p in (cfg.weights, request.model_src) if p and str(p).endswith(".pt") and checkpoints.is_trusted(p)]
            argv = (
                distributed.train_argv(ws.root, request.data, model, {**request.settings, "device": cfg.device}, run_id)
                + ["--trust-weights"] * bool(trusted)
            )
            return train_launched(ws, run_id, distributed.torchrun_command(argv, launch), stop, on_event, records=launch.node_rank == 0)
        if transfer:
            events.write(
                "log", level="info",
                message=f"initialising from {Path(cfg.weights).name}: {transfer['transferred']}/{transfer['total']} tensors transfer",
            )
        overrides = {
            "model": request.model_src, "data": str(request.data_yaml), "project": str(ws.runs_dir), "name": run_id, "exist_ok": True,
            **cfg.ultralytics_args(),
        }
        return {**run_trainer(ws, run_id, overrides, events, stop, cfg.loggers, before_done), "transfer": transfer}
    except BaseException as exc:
        record_failure(ws, run_id, events, primary, exc)  # whatever went wrong, the run does not stay queued
        raise


def record_failure(ws: Workspace, run_id: str, events: EventLog, primary: bool, exc: BaseException) -> None:
    """Mark a run that ended in ``exc`` as failed (or interrupted, for Ctrl+C), unless it already
    recorded an end. Each record is tried on its own: on a full disk the events file may fail
    while the registry still takes the status, or the other way round."""
    if getattr(exc, "yolov11_recorded", False):  # an inner frame recorded it already (train() around run_trainer)
        return
    record = _quietly(ws.run, run_id)
    if not primary or record is None or record["status"] not in ("queued", "running"):
        return
    if record.get("owner") not in (None, liveness.token()) and liveness.alive(record.get("owner"), ws.owners_dir):
        return  # another live process has the run now (a CLI resume of a run this app had queued): not ours to end
    if isinstance(exc, KeyboardInterrupt):
        status, message = "interrupted", "interrupted (Ctrl+C)"
    else:
        status = "failed"
        message = (
            os_error_text(exc) if isinstance(exc, OSError) and exc.errno
            else str(exc) if isinstance(exc, UserError)
            else f"{type(exc).__name__}: {exc}"
        )
    _quietly(events.write, "status", status=status, error=message)
    _quietly(ws.update_run, run_id, status=status, metrics={"error": message})
    try:
        exc.yolov11_recorded = True
    except AttributeError:  # built-in exceptions without a __dict__ cannot carry the mark
        pass


def _recorded(exc: UserError) -> UserError:
    exc.yolov11_recorded = True
    return exc


def _quietly(fn, *args, **kwargs):
    """Call ``fn``; a failure to record (full disk, registry locked) is logged, not raised over
    the error being recorded."""
    try:
        return fn(*args, **kwargs)
    except (OSError, UserError) as exc:
        logging.getLogger("yolov11").warning("could not record run state: %s", exc)
        return None


def train_launched(ws: Workspace, run_id: str, cmd: list[str], stop: threading.Event, on_event: Callable[[dict], None] | None,
                   records: bool = True) -> dict:
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
    weights = best_weights(run_dir)
    weights = str(weights) if weights else None
    return {
        "run": run_id, "dir": str(run_dir), "status": record["status"], "metrics": record["metrics"] or {}, "weights": weights,
        "transfer": None,
    }


def run_trainer(ws: Workspace, run_id: str, overrides: dict, events: EventLog, stop: threading.Event, trackers: str = "",
                before_done: Callable[[str], None] | None = None) -> dict:
    """Run Ultralytics' DetectionTrainer with our callbacks on a registered run (new or resumed)
    and record how it ended; returns ``{"run", "dir", "status", "metrics", "weights"}``.
    ``before_done``: see run_request (its failure is logged, the run stays done)."""
    primary = distributed.is_primary()
    if primary:
        ws.own_run(run_id, status="running")
    created_group = False
    distributed.stop_on_sigterm(stop)
    stop_file = ws.runs_dir / run_id / distributed.STOP_FILE if distributed.in_torchrun() and primary else None
    handler = LogToEvents(events)
    logger = logging.getLogger("ultralytics")
    logger.addHandler(handler)
    trainer = None
    freeze_long_lived()
    imgsz = overrides.get("imgsz") or ((ws.run(run_id) or {}).get("settings") or {}).get("imgsz")  # a resume's: the run's record
    try:
        with loggers.enabled(trackers, ws.root):  # W&B / MLflow callbacks join at construction
            on_start = (lambda world: _quietly(ws.update_run, run_id, **world)) if primary else None
            trainer = trainer_compat.detection_trainer(overrides, Callbacks(events, stop, stop_file, imgsz, on_start).hooks())
        distributed.adopt_world_size(trainer)
        created_group = distributed.ensure_process_group(trainer)
        trainer.train()
        metrics, best = trainer_compat.finished(trainer)
        status = "stopped" if stop.is_set() else "done"
    except BaseException as exc:
        if distributed.peer_lost(exc):  # another rank died: say so in words, not as gloo's/NCCL's socket error
            record_failure(ws, run_id, events, primary, UserError(distributed.peer_lost(exc)))
            raise _recorded(UserError(f"run {run_id}: {distributed.peer_lost(exc)}")) from exc
        record_failure(ws, run_id, events, primary, exc)
        if isinstance(exc, OSError) and exc.errno:
            raise _recorded(UserError(f"run {run_id}: {os_error_text(exc)}")) from exc
        if isinstance(exc, SyntaxError) or (isinstance(exc, RuntimeError) and str(exc).startswith("Dataset")):  # data or argument at fault
            raise _recorded(UserError(f"run {run_id}: {type(exc).__name__}: {plain(exc, 300)}")) from exc
        raise
    finally:
        logger.removeHandler(handler)
        del trainer  # free the model, optimizer and dataloaders before the next run
        gc.collect()
        torch = _torch()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if created_group:
            torch.distributed.destroy_process_group()
    if before_done is not None and status == "done" and primary:
        _quietly(events.write, "log", level="info", message="working out what to fix next (Evaluate → What to fix next)")
        try:
            before_done(run_id)
        except Exception as exc:  # noqa: BLE001 - the run trained well: advice that fails says so in its log and nothing more
            _quietly(events.write, "log", level="warning", message=f"no advice this time: {type(exc).__name__}: {plain(exc, 200)}")
    _quietly(events.write, "status", status=status, metrics=metrics, weights=str(best))  # a full disk now: the next start reconciles
    if primary:
        _quietly(ws.update_run, run_id, status=status, metrics=metrics)
    return {"run": run_id, "dir": str(ws.runs_dir / run_id), "status": status, "metrics": metrics, "weights": str(best)}
