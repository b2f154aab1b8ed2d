"""Shared fixtures. Every test process runs behind the network guard (tests/netguard): a
connection to any host but this machine is refused and logged, and the session fails if the
log is not empty at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUARD_DIR = Path(__file__).parent / "netguard"
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="yolov11-tests-"))
NETGUARD_LOG = _SESSION_DIR / "netguard.log"

# Before anything imports yolov11 or Ultralytics: a throwaway default workspace (its config dir
# holds Ultralytics' settings) and the guard, in this process and inherited by subprocesses.
os.environ["YOLOV11_WORKSPACE"] = str(_SESSION_DIR / "default-workspace")
os.environ["NETGUARD_LOG"] = str(NETGUARD_LOG)
# The test harness's own gradio_client (huggingface_hub) would phone home; the app sets these
# itself in offline.prepare() before importing gradio (the browser test checks app.py for real).
os.environ["HF_HUB_OFFLINE"] = os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join([str(GUARD_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")])
sys.path.insert(0, str(GUARD_DIR))
import sitecustomize  # noqa: E402,F401  (installs the guard here too)

sys.path.insert(0, str(ROOT))


def pytest_sessionfinish(session, exitstatus):
    attempts = NETGUARD_LOG.read_text() if NETGUARD_LOG.exists() else ""
    if attempts:
        print(f"\nnetwork access attempted during the tests:\n{attempts}", file=sys.stderr)
        session.exitstatus = 1


@pytest.fixture
def workspace(tmp_path):
    from yolov11 import Workspace

    return Workspace.at(tmp_path / "ws")


def write_yolo_folder(dest: Path, n_images: int = 16, size: int = 96, seed: int = 1) -> Path:
    """A small folder in YOLO layout drawn by the demo generator."""
    from yolov11.data.demo import write_demo

    write_demo(dest, n_images=n_images, size=size, seed=seed, val_fraction=0.25)
    return dest


def zip_folder(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder.parent))
    return dest


@pytest.fixture(scope="session")
def tiny_zip(tmp_path_factory) -> Path:
    """A 16-image hard-hat zip (YOLO layout, 96 px): small enough to train in seconds."""
    base = tmp_path_factory.mktemp("tiny")
    return zip_folder(write_yolo_folder(base / "hardhat-tiny"), base / "hardhat-tiny.zip")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tiny_zip):
    """One real 1-epoch training at imgsz 64 in its own workspace: (workspace, train result)."""
    import yolov11

    ws = yolov11.Workspace.at(tmp_path_factory.mktemp("trained") / "ws")
    yolov11.import_dataset(tiny_zip, workspace=ws)
    result = yolov11.train("hardhat-tiny", "yolov11n", epochs=1, imgsz=64, batch=8, workspace=ws)
    return ws, result


def pytest_unconfigure(config):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
