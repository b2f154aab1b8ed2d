"""The deploy bundle works away from the workbench: its infer.py, in a fresh virtual environment
holding only onnxruntime, numpy and Pillow, finds what the app's predict finds; and the exported
ONNX loads through Ultralytics' own YOLO("model.onnx") predictor with the .pt's detections."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

import yolov11
from yolov11.export.verify import match_detections

from helpers import GUARD_DIR

CONF = 0.001  # a low threshold: hundreds of detections to compare, weak ones included


@pytest.fixture(scope="module")
def exported(trained_run) -> dict:
    return yolov11.export_model(run=trained_run["run"], dynamic="batch", verify=False, workspace=trained_run["workspace"])


def val_images(trained_run) -> list[Path]:
    return sorted((trained_run["workspace"].datasets_dir / trained_run["dataset"] / "images" / "val").glob("*.jpg"))


def rows(detections: list[dict]) -> np.ndarray:
    """Detections as (n, 6) x1 y1 x2 y2 confidence class rows, for match_detections."""
    return np.array([[*d["box"], d["confidence"], d["class_id"]] for d in detections], np.float32).reshape(-1, 6)


def assert_same(a: list[dict], b: list[dict]) -> None:
    m = match_detections([rows(a)], [rows(b)])
    assert len(a) > 0, m["detections"]
    assert m["detections_match"], m["detections"]
    assert m["detections"]["max_score_diff"] <= 1e-3


def fresh_venv(dest: Path, runtime: str = "onnxruntime") -> Path:
    """A venv without system site-packages where only numpy, Pillow and the model's ``runtime``
    (found where this interpreter imports them from) are importable, linked in with their vendored
    libraries."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    python = dest / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    assert site != Path(sysconfig.get_paths()["purelib"])
    for package, dist in (("numpy", "numpy"), ("PIL", "pillow"), (runtime, runtime)):
        src = Path(importlib.util.find_spec(package).submodule_search_locations[0])
        for path in (src, src.with_name(f"{dist}.libs")):  # manylinux wheels keep their shared libraries beside the package
            if path.exists():
                (site / path.name).symlink_to(path)
    return python


def run_bundle(bundle_zip: str | Path, python: Path, images: list[Path], tmp_path: Path, absent: tuple[str, ...]) -> tuple[Path, list]:
    """Unzip a deploy bundle and run its infer.py on ``images`` with ``python`` (a fresh venv), the
    network guard on and nothing of this repository importable: each of ``absent`` must fail to
    import there. Returns the bundle's folder and infer.py's "images"."""
    bundle = tmp_path / "bundle"
    with zipfile.ZipFile(bundle_zip) as zf:
        zf.extractall(bundle)
    env = {**os.environ, "PYTHONPATH": str(GUARD_DIR), "NETGUARD_LOG": str(tmp_path / "net.log")}  # the network guard only
    for missing in absent:
        probe = subprocess.run([python, "-c", f"import {missing}"], capture_output=True, text=True, env=env)
        assert "ModuleNotFoundError" in probe.stderr, missing
    out = subprocess.run([python, str(bundle / "infer.py"), *map(str, images), "--conf", str(CONF)], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "net.log").exists()
    return bundle, json.loads(out.stdout)["images"]


def test_bundle_infer_runs_with_only_onnxruntime_numpy_pillow(trained_run, exported, tmp_path):
    images = val_images(trained_run)
    python = fresh_venv(tmp_path / "venv")
    _, standalone = run_bundle(exported["bundle"], python, images, tmp_path, ("torch", "ultralytics", "cv2", "yolov11"))
    app = yolov11.predict(exported["path"], images, conf=CONF, workspace=trained_run["workspace"])["images"]
    assert [Path(i["image"]).name for i in standalone] == [Path(i["image"]).name for i in app]
    for mine, theirs in zip(standalone, app):
        assert_same(mine["detections"], theirs["detections"])


def test_exported_onnx_loads_in_ultralytics_with_the_pt_detections(trained_run, exported):
    yolov11.compat.offline.prepare()
    from ultralytics import YOLO

    image = str(val_images(trained_run)[0])  # square, so the .pt's rectangular letterbox is the same 128 x 128

    def detections(weights: str) -> list[dict]:
        boxes = YOLO(weights, task="detect").predict(image, imgsz=128, conf=CONF, verbose=False)[0].boxes
        return [{"box": b, "confidence": c, "class_id": k} for b, c, k in zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist())]

    assert_same(detections(exported["path"]), detections(str(trained_run["weights"])))
