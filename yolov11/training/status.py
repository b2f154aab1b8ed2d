"""A run's state as views need it, folded from its registry row and events.jsonl.

Viewers ask often (the Train tab each second, ``/training_status`` clients, the runs table for
every run), and a long run's events.jsonl holds tens of thousands of lines. So each run's file
is folded once and then only what was appended since is read: ``_Fold`` keeps the state and the
byte offset it has read to (``events.read_events``), and starts over when the file is another
one (a run deleted and a new one given its name: another inode, or other first bytes) or shorter
than that offset.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict, deque
from pathlib import Path

from yolov11.training.events import read_events
from yolov11.workspace import Workspace
from yolov11.workspace.paths import advice_file

LOG_TAIL = 200  # log lines a status carries; the whole log stays in events.jsonl
WEAK_MAP50 = 0.05  # below this val mAP50 a finished model finds almost nothing: say so, not "done" alone
# Runs whose folded events stay in memory (most recently asked); the rest are read again when asked.
# A fold holds every batch event of its run (two a second: a ten-hour run, some 14 MB), so few.
FOLDS_KEPT = 16
QUICK_BYTES = 256 << 10  # with wait=False: more unread events than this are read by the caller's worker, not at once
HEAD_BYTES = 256  # the file's first bytes, kept to tell it from a new file that reuses its inode


def weak_model_warning(metrics: dict | None) -> str | None:
    """The sentence to show with a model whose val mAP50 (in ``metrics``) is below WEAK_MAP50, else None."""
    map50 = (metrics or {}).get("mAP50")
    if not isinstance(map50, (int, float)) or map50 >= WEAK_MAP50:
        return None
    return f"the model finds almost nothing (val mAP50 {map50:.2f}): train more epochs, use a bigger image size, or check the labels"


class _Fold:
    """What a run's events say so far, and the byte offset of events.jsonl read up to."""

    def __init__(self, file_id: tuple[int, int] | None = None):
        self.lock = threading.Lock()
        self.clear(file_id)

    def clear(self, file_id: tuple[int, int] | None) -> None:
        """Forget what was folded (another file now has the run's name); the lock stays."""
        self.file_id, self.offset, self.head = file_id, 0, b""
        self.epoch, self.epochs, self.eta_s, self.images_per_s, self.gpu_mem_gb = 0, None, None, None, None
        self.progress: float | None = None  # None until a batch event
        self.history: list[dict] = []
        self.batches: list[dict] = []
        self.log: deque[str] = deque(maxlen=LOG_TAIL)
        self.metrics: dict | None = None  # the last epoch's
        self.error: str | None = None
        self.started: float | None = None  # the first "running" status
        self.last_t: float | None = None

    def add(self, e: dict) -> None:
        kind = e["type"]
        self.last_t = e["t"]
        if kind == "batch":
            self.epoch, self.eta_s, self.images_per_s, self.gpu_mem_gb = e["epoch"], e["eta_s"], e["images_per_s"], e.get("gpu_mem_gb")
            position = ((e["epoch"] - 1) * e["batches"] + e["batch"]) / (e["epochs"] * e["batches"])
            # Never backwards for one target: an epoch re-run after a stop in its middle covers ground
            # already counted. A resume to more epochs is a new target, over which less is done.
            same_target = self.progress is not None and self.epochs == e["epochs"]
            self.progress = max(self.progress, position) if same_target else position
            self.epochs = e["epochs"]
            step = round(e["epoch"] - 1 + e["batch"] / e["batches"], 4)
            while self.batches and self.batches[-1]["step"] >= step:  # an epoch re-run after a mid-epoch stop
                self.batches.pop()
            self.batches.append({"step": step, **e["losses"]})
        elif kind == "epoch":
            entry = {
                "epoch": e["epoch"], **e["train_losses"], **{f"val_{k}": v for k, v in e["val_losses"].items()}, **e["metrics"],
                "lr": e["lr"],
            }
            if self.history and self.history[-1]["epoch"] >= e["epoch"]:  # a re-run epoch replaces its first pass
                self.history = [h for h in self.history if h["epoch"] < e["epoch"]]
            self.history.append(entry)
            self.metrics = e["metrics"]
        elif kind == "log":
            self.log.append(e["message"])
        elif kind == "status":
            if e.get("error"):
                self.error = e["error"]
            if e.get("status") == "running" and self.started is None:
                self.started = e["t"]


_folds: OrderedDict[str, _Fold] = OrderedDict()
_folds_lock = threading.Lock()


def _file_id(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def folded(path: Path, wait: bool = True) -> _Fold | None:
    """The events of ``path`` folded up to its end now (a line still being written waits).
    ``wait=False``: None instead of waiting for another reader of the run or reading more than
    QUICK_BYTES (a caller that must not block, such as an answer given in the event loop)."""
    key = str(path)
    try:
        st = os.stat(path)
        with _folds_lock:
            fold = _folds.get(key)
            if fold is None or fold.file_id != _file_id(st):
                fold = _folds[key] = _Fold(_file_id(st))
            _folds.move_to_end(key)
            while len(_folds) > FOLDS_KEPT:
                _folds.popitem(last=False)
        if not fold.lock.acquire(blocking=wait):
            return None
        try:  # one reader per run; other runs' viewers are not held up
            st = os.stat(path)  # again, under the lock: the offset it is compared with is this reader's
            if st.st_size < fold.offset or (fold.head and _head(path, len(fold.head)) != fold.head):
                fold.clear(_file_id(st))  # another file under the run's name (a run deleted, its id reused)
            if not wait and st.st_size - fold.offset > QUICK_BYTES:
                return None
            if st.st_size > fold.offset:
                events, offset = read_events(path, fold.offset)
                try:
                    for e in events:
                        fold.add(e)
                except Exception:  # a line it cannot fold: forgotten, so the next call says so again
                    with _folds_lock:
                        if _folds.get(key) is fold:
                            del _folds[key]
                    raise
                fold.offset = offset
                if len(fold.head) < HEAD_BYTES:
                    fold.head = _head(path, min(HEAD_BYTES, fold.offset))
            return fold
        finally:
            fold.lock.release()
    except (FileNotFoundError, NotADirectoryError):
        return _Fold()  # no events yet (a queued run), or a run deleted meanwhile


ADVICE_SHOWN = 3  # the actions run_status carries: the top three of what advise said for val


def _advice(run_dir: str) -> list[dict] | None:
    """The top actions of the run's saved advice for val: [{"kind", "title", "expected_gain", "command"}], or None."""
    try:
        actions = json.loads(advice_file(run_dir, "val").read_text())["actions"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [{k: a.get(k) for k in ("kind", "title", "expected_gain", "command")} for a in actions[:ADVICE_SHOWN]]


def run_status(run_id: str, workspace: Workspace | str | Path | None = None, *, wait: bool = True) -> dict | None:
    """{"run", "status", "epoch", "epochs", "progress", "eta_s", "metrics", "history", "log", ...}.

    ``history`` holds one entry per finished epoch (losses and metrics; an epoch re-run after a
    stop in its middle keeps its second pass), ``batches`` the training
    losses at each batch event (``step`` in fractional epochs), ``progress`` is 0..1 over all
    batches and never goes back while the planned epochs stay the same (an epoch re-run after a
    stop in its middle holds it), ``log`` the last log lines. ``val_mAP50`` is the final
    validation's mAP50 (else the last epoch's, else None); ``warning`` is None, or a sentence
    when the run ended ``done`` with a model that finds almost nothing (val mAP50 below
    WEAK_MAP50); ``advice`` the top three actions of what to fix next ({"kind", "title",
    "expected_gain", "command"}; worked out as an app training ends, or by ``advise``), else None.
    ``wait=False``: None instead of waiting for another reader of the run or
    reading much of its file (see ``folded``).
    """
    ws = Workspace.at(workspace)
    record = ws.require_run(run_id)
    fold = folded(Path(record["dir"]) / "events.jsonl", wait)
    if fold is None:
        return None
    if not fold.lock.acquire(blocking=wait):  # a consistent copy: the lists go on growing in the fold
        return None
    try:
        state = {
            "run": run_id,
            "status": record["status"],
            "dataset": record["dataset"],
            "model": record["model"],
            "dir": record["dir"],
            "epoch": fold.epoch,
            "epochs": fold.epochs if fold.epochs is not None else (record["settings"] or {}).get("epochs"),
            "progress": fold.progress or 0.0,
            "eta_s": fold.eta_s,
            "images_per_s": fold.images_per_s,
            "gpu_mem_gb": fold.gpu_mem_gb,
            "metrics": fold.metrics if fold.metrics is not None else record["metrics"] or {},
            "history": list(fold.history),
            "batches": list(fold.batches),
            "log": list(fold.log),
            "error": fold.error,
            "duration_s": round(fold.last_t - fold.started, 1) if fold.started is not None else None,
            "val_mAP50": None,
            "warning": None,
            "advice": _advice(record["dir"]),
        }
    finally:
        fold.lock.release()
    map50 = {**state["metrics"], **(record["metrics"] or {})}.get("mAP50")  # the final validation (of best.pt), else the last epoch's
    state["val_mAP50"] = round(float(map50), 4) if isinstance(map50, (int, float)) else None
    if state["status"] == "done":
        state["progress"] = 1.0
        state["warning"] = weak_model_warning({"mAP50": state["val_mAP50"]})
    return state
