"""Checkpoints open through torch's restricted unpickler: what this app and Ultralytics train
loads with no opt-in, a pickle that runs code is refused naming what it wanted, and trusting a
file is an explicit, per-file opt-in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import yolov11
from yolov11 import checkpoints
from yolov11.compat import offline


class _Payload:
    """Unpickling this calls os.system: the canary file appears if the pickle runs."""

    def __init__(self, canary: Path):
        self.canary = canary

    def __reduce__(self):
        return (os.system, (f"touch {self.canary}",))


def _evil(tmp_path: Path, name: str = "evil.pt") -> tuple[Path, Path]:
    canary = tmp_path / f"{name}.ran"
    path = tmp_path / name
    torch.save({"model": _Payload(canary), "epoch": 1}, path)
    return path, canary


def test_our_runs_and_a_plain_ultralytics_checkpoint_load_without_opt_in(trained_run, tmp_path, tiny_zip):
    ckpt = checkpoints.load(trained_run["weights"])
    assert isinstance(ckpt["model"] or ckpt["ema"], torch.nn.Module)
    offline.prepare()
    from ultralytics import YOLO

    ws = yolov11.Workspace.at(tmp_path / "ws")
    data = yolov11.import_dataset(tiny_zip, workspace=ws)
    YOLO("yolo11n.yaml").train(data=data["data_yaml"], epochs=1, imgsz=32, batch=4, workers=0, project=str(tmp_path / "plain"), name="r",
                               plots=False, amp=False, device="cpu")
    best = tmp_path / "plain" / "r" / "weights" / "best.pt"
    assert isinstance(checkpoints.load(best)["model"], torch.nn.Module)
    assert len(YOLO(str(best)).names) == 3  # and through Ultralytics' own loader, gated the same way


def test_a_pickle_that_runs_code_is_refused_everywhere_it_could_be_opened(tmp_path):
    path, canary = _evil(tmp_path)
    with pytest.raises(yolov11.UserError, match=r"evil.pt: refused to load: the checkpoint needs 'posix.system'"):
        checkpoints.load(path)
    offline.prepare()
    from ultralytics import YOLO

    with pytest.raises(TypeError, match="references types outside the supported Ultralytics checkpoint format"):
        YOLO(str(path))  # Ultralytics' own loader, used by YOLO(), the trainer and the validator: restricted too
    legacy = tmp_path / "legacy.pt"  # the pre-zip torch.save format
    torch.save({"model": _Payload(canary)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(yolov11.UserError, match="'posix.system'"):
        checkpoints.load(legacy)
    assert not canary.exists()


def test_trusting_a_file_is_explicit_and_covers_only_its_bytes(tmp_path):
    path, canary = _evil(tmp_path)
    other, other_canary = _evil(tmp_path, "other.pt")
    yolov11.trust_weights(path)
    with pytest.raises(yolov11.UserError, match="not an Ultralytics checkpoint"):  # it ran, and it holds no model
        checkpoints.load(path)
    assert canary.exists()  # the opt-in really loads it unrestricted
    with pytest.raises(yolov11.UserError, match="refused to load"):
        checkpoints.load(other)  # a different file (other bytes) is not trusted
    assert not other_canary.exists()
