"""Experiment trackers beside TensorBoard: Weights & Biases and MLflow, when installed and asked for.

TensorBoard event files are always written (offline.py switches that integration on). The
others are Ultralytics' own integrations, enabled for one run through its settings, and kept
offline: W&B logs in offline mode (``wandb sync`` uploads later) unless WANDB_MODE says
otherwise, and MLflow writes a file store in the workspace unless MLFLOW_TRACKING_URI points
elsewhere.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path

LOGGERS = {"wandb": "wandb", "mlflow": "mlflow"}  # our name -> the package it needs
_SETTINGS_LOCK = threading.Lock()
_OUR_MLFLOW_URI: str | None = None  # the MLflow URI this process set (for a workspace), not the user's


def parse(loggers: str | list | tuple | None) -> list[str]:
    """"wandb,mlflow" (or a list) -> ["wandb", "mlflow"]."""
    items = loggers.split(",") if isinstance(loggers, str) else list(loggers or [])
    return [name.strip().lower() for name in items if name.strip()]


def problem(loggers: str | list | tuple | None) -> str | None:
    """What is wrong with a --loggers value, or None."""
    for name in parse(loggers):
        if name not in LOGGERS:
            return f"--loggers {name}: choose wandb, mlflow or both (TensorBoard is always on)"
        if importlib.util.find_spec(LOGGERS[name]) is None:
            return f"--loggers {name}: the {LOGGERS[name]} package is not installed (pip install {LOGGERS[name]})"
    return None


@contextlib.contextmanager
def enabled(loggers: str | list | tuple | None, workspace_root: Path) -> Iterator[list[str]]:
    """Switch the chosen integrations on for the trainer created inside the block."""
    from yolov11.compat import trackers

    chosen = parse(loggers)
    if "wandb" in chosen:
        os.environ.setdefault("WANDB_MODE", "offline")  # nothing leaves the machine unless asked
    global _OUR_MLFLOW_URI
    if "mlflow" in chosen and os.environ.get("MLFLOW_TRACKING_URI") in (None, _OUR_MLFLOW_URI):
        # A plain folder store: MLflow 3 prefers a database, which needs SQLAlchemy (not in
        # mlflow-skinny); point MLFLOW_TRACKING_URI at sqlite:///... or a server to use one.
        # Set per run (a URI we set for another workspace is replaced, one the user set is kept).
        _OUR_MLFLOW_URI = os.environ["MLFLOW_TRACKING_URI"] = (Path(workspace_root) / "mlflow").resolve().as_uri()
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    # Runs on other devices build their trainers meanwhile: one trainer at a time is built under
    # these process-wide settings, a run without trackers included (it must not catch another's).
    with _SETTINGS_LOCK:
        before = {name: trackers.get(name) for name in chosen}
        trackers.set_many(dict.fromkeys(chosen, True))  # Ultralytics saves its settings file on every update
        try:
            yield chosen
        finally:
            trackers.set_many(before)
