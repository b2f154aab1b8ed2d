"""Shared fixtures. Every test process runs behind the network guard (tests/netguard): a
connection to any host but this machine is refused and logged, and the session fails if the
log is not empty at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
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
sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, for test modules in subfolders too
from helpers import write_yolo_folder, zip_folder  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    attempts = NETGUARD_LOG.read_text() if NETGUARD_LOG.exists() else ""
    if attempts:
        print(f"\nnetwork access attempted during the tests:\n{attempts}", file=sys.stderr)
        session.exitstatus = 1


@pytest.fixture
def workspace(tmp_path):
    from yolov11 import Workspace

    return Workspace.at(tmp_path / "ws")


@pytest.fixture(scope="session")
def tiny_zip(tmp_path_factory) -> Path:
    """A 16-image hard-hat zip (YOLO layout, 96 px): small enough to train in seconds."""
    base = tmp_path_factory.mktemp("tiny")
    return zip_folder(write_yolo_folder(base / "hardhat-tiny"), base / "hardhat-tiny.zip")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tiny_zip) -> dict:
    """A tiny model really trained on ``tiny_zip`` (yolov11n, 64 px, 3 epochs), shared by the
    evaluation, export and predict tests: {"workspace", "run", "weights", "dataset", "data_yaml"}.
    Treat it as read-only; copy the weights before changing anything.
    """
    import yolov11

    ws = yolov11.Workspace.at(tmp_path_factory.mktemp("trained") / "ws")
    data = yolov11.import_dataset(tiny_zip, workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, epochs=3, imgsz=64, batch=8, workers=0, seed=0)
    assert r["status"] == "done", r
    return {"workspace": ws, "run": r["run"], "weights": Path(r["weights"]), "dataset": data["name"], "data_yaml": Path(data["data_yaml"])}


def pytest_unconfigure(config):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
