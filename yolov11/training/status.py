"""A run's state as views need it, folded from its registry row and events.jsonl."""

from __future__ import annotations

from pathlib import Path

from yolov11.training.events import read_events
from yolov11.workspace import Workspace

LOG_TAIL = 200  # log lines a status carries; the whole log stays in events.jsonl
WEAK_MAP50 = 0.05  # below this val mAP50 a finished model finds almost nothing: say so, not "done" alone


def weak_model_warning(metrics: dict | None) -> str | None:
    """The sentence to show with a model whose val mAP50 (in ``metrics``) is below WEAK_MAP50, else None."""
    map50 = (metrics or {}).get("mAP50")
    if not isinstance(map50, (int, float)) or map50 >= WEAK_MAP50:
        return None
    return f"the model finds almost nothing (val mAP50 {map50:.2f}): train more epochs, use a bigger image size, or check the labels"


def run_status(run_id: str, workspace: Workspace | str | Path | None = None) -> dict:
    """{"run", "status", "epoch", "epochs", "progress", "eta_s", "metrics", "history", "log", ...}.

    ``history`` holds one entry per finished epoch (losses and metrics; an epoch re-run after a
    stop in its middle keeps its second pass), ``batches`` the training
    losses at each batch event (``step`` in fractional epochs), ``progress`` is 0..1 over all
    batches, ``log`` the last log lines. ``val_mAP50`` is the final validation's mAP50 (else the
    last epoch's, else None); ``warning`` is None, or a sentence when the run ended ``done`` with
    a model that finds almost nothing (val mAP50 below WEAK_MAP50).
    """
    ws = Workspace.at(workspace)
    record = ws.require_run(run_id)
    events, _ = read_events(Path(record["dir"]) / "events.jsonl")
    state = {
        "run": run_id,
        "status": record["status"],
        "dataset": record["dataset"],
        "model": record["model"],
        "dir": record["dir"],
        "epoch": 0,
        "epochs": (record["settings"] or {}).get("epochs"),
        "progress": 0.0,
        "eta_s": None,
        "images_per_s": None,
        "gpu_mem_gb": None,
        "metrics": record["metrics"] or {},
        "history": [],
        "batches": [],
        "log": [],
        "error": None,
        "duration_s": None,
        "val_mAP50": None,
        "warning": None,
    }
    for e in events:
        kind = e["type"]
        if kind == "batch":
            state.update(epoch=e["epoch"], epochs=e["epochs"], eta_s=e["eta_s"], images_per_s=e["images_per_s"], gpu_mem_gb=e.get("gpu_mem_gb"))
            state["progress"] = ((e["epoch"] - 1) * e["batches"] + e["batch"]) / (e["epochs"] * e["batches"])
            step = round(e["epoch"] - 1 + e["batch"] / e["batches"], 4)
            while state["batches"] and state["batches"][-1]["step"] >= step:  # an epoch re-run after a mid-epoch stop
                state["batches"].pop()
            state["batches"].append({"step": step, **e["losses"]})
        elif kind == "epoch":
            entry = {"epoch": e["epoch"], **e["train_losses"], **{f"val_{k}": v for k, v in e["val_losses"].items()}, **e["metrics"], "lr": e["lr"]}
            state["history"] = [h for h in state["history"] if h["epoch"] < e["epoch"]] + [entry]  # a re-run epoch replaces its first pass
            state["metrics"] = e["metrics"]
        elif kind == "log":
            state["log"].append(e["message"])
        elif kind == "status" and e.get("error"):
            state["error"] = e["error"]
    started = [e["t"] for e in events if e["type"] == "status" and e.get("status") == "running"]
    if started:
        state["duration_s"] = round(events[-1]["t"] - started[0], 1)
    map50 = {**state["metrics"], **(record["metrics"] or {})}.get("mAP50")  # the final validation (of best.pt), else the last epoch's
    state["val_mAP50"] = round(float(map50), 4) if isinstance(map50, (int, float)) else None
    if state["status"] == "done":
        state["progress"] = 1.0
        state["warning"] = weak_model_warning({"mAP50": state["val_mAP50"]})
    state["log"] = state["log"][-LOG_TAIL:]
    return state
