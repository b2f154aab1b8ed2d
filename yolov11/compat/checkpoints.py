"""Ultralytics' checkpoint loader, made restricted by default.

Relies on: ``nn.tasks.torch_safe_load(weight, safe_only=)`` (every ``YOLO(path)``, trainer
``pretrained``/``resume`` and validator load goes through it, looked up as a module global of
``nn.tasks``; nothing in Ultralytics imports it by name), its ``safe_only=True`` path
(``torch.load(weights_only=True)`` with the ``_SafeLoad`` allowlist of torch and Ultralytics
layers it registers per checkpoint), and ``_SafeLoad.SUPPORTED`` (False on torch < 2.6, where
Ultralytics would quietly load unrestricted instead).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def install(restricted: Callable[[str], bool], extra_classes: list[type]) -> None:
    """Make ``restricted(weight)`` the default of Ultralytics' ``safe_only`` (idempotent) and
    allow ``extra_classes`` (our layers) in restricted loads; refuses a torch that cannot."""
    import torch
    from ultralytics.nn import tasks

    if getattr(tasks.torch_safe_load, "yolov11_gate", False):
        return
    if not tasks._SafeLoad.SUPPORTED:
        raise RuntimeError(
            f"torch {torch.__version__} cannot load checkpoints restricted (needs torch 2.6 or newer): pip install -r requirements.txt"
        )
    torch.serialization.add_safe_globals(extra_classes)
    original = tasks.torch_safe_load

    def torch_safe_load(weight, safe_only=None):
        return original(weight, safe_only=restricted(weight) if safe_only is None else safe_only)

    torch_safe_load.yolov11_gate = True
    tasks.torch_safe_load = torch_safe_load


def load(path: Path, restricted: bool) -> object:
    """The object a checkpoint file holds, read as Ultralytics reads it (restricted or not)."""
    from ultralytics.nn import tasks

    ckpt, _ = tasks.torch_safe_load(str(path), safe_only=restricted)
    return ckpt
