"""Shared fixtures. Every test process runs behind the network guard (tests/netguard): a
connection to any host but this machine is refused and logged, and the session fails if the
log is not empty at the end.

``make test`` runs the suite in two pytest-xdist workers, a file to a worker (``--dist loadfile``:
a module's fixtures are made once). Each worker has its own session folder, default workspace and
session fixtures (trained_run, shapes_model: seeded, so the same model in both); the controlling
process names the network guard's log and the background trainings' folder in the environment
before its workers start, so all share those two.
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
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1 in an xdist worker; None in the controlling (or only) process

# Before anything imports yolov11 or Ultralytics: a throwaway default workspace (its config dir
# holds Ultralytics' settings) and the guard, in this process and inherited by subprocesses.
os.environ["YOLOV11_WORKSPACE"] = str(_SESSION_DIR / "default-workspace")
if not _WORKER:  # the controlling process: its workers inherit these two
    os.environ["NETGUARD_LOG"] = str(_SESSION_DIR / "netguard.log")
    os.environ["YOLOV11_TEST_BACKGROUND"] = str(_SESSION_DIR / "background")  # background_runs.SHARED_ENV
NETGUARD_LOG = Path(os.environ["NETGUARD_LOG"])
# The test harness's own gradio_client (huggingface_hub) would phone home; the app sets these
# itself in offline.prepare() before importing gradio (the browser test checks app.py for real).
os.environ["HF_HUB_OFFLINE"] = os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join([str(GUARD_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")])
sys.path.insert(0, str(GUARD_DIR))
import sitecustomize  # noqa: E402,F401  (installs the guard here too)

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, for test modules in subfolders too
import background_runs  # noqa: E402

import video_fixtures  # noqa: E402
from helpers import write_yolo_folder, zip_folder  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    if _WORKER:
        return  # the controlling process reads the shared log once all have finished
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
def trained_run(tmp_path_factory) -> dict:
    """A small model really trained to find things (yolov11n, 25 epochs at 128 px on 48 demo
    images: mAP50 about 0.6 on the 16 val images, ~40 s here), shared by the evaluation, export
    and predict tests: {"workspace", "run", "weights", "dataset", "data_yaml", "metrics"}.
    Treat it as read-only; copy the weights before changing anything.
    """
    import yolov11
    from yolov11.data.demo import write_demo

    base = tmp_path_factory.mktemp("trained")
    ws = yolov11.Workspace.at(base / "ws")
    write_demo(base / "hardhat-64", n_images=64, size=128, seed=1, val_fraction=0.25)
    data = yolov11.import_dataset(base / "hardhat-64", workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, epochs=25, imgsz=128, batch=8, close_mosaic=5, workers=0, seed=0)
    assert r["status"] == "done", r
    assert r["metrics"]["mAP50"] > 0.3, r  # a model that finds things, or the tests prove little
    return {"workspace": ws, "run": r["run"], "weights": Path(r["weights"]), "dataset": data["name"], "data_yaml": Path(data["data_yaml"]),
            "metrics": r["metrics"]}


def _waits(item) -> bool:
    return any(f"{name}_run" in item.fixturenames for name in background_runs.RUNS)


def pytest_collection_modifyitems(session, config, items):
    """The files with a test that waits for a background training (below) run last, in their
    own order: it has the rest of the suite to finish in (whole files: xdist hands out a file at a time)."""
    waiting = {item.path for item in items if _waits(item)}
    items.sort(key=lambda item: item.path in waiting)  # stable otherwise


@pytest.fixture(scope="session", autouse=True)
def _background_trainings(request):
    """Trainings of minutes start with the session, in a process of their own that the xdist
    workers share (background_runs.py). Started only when a collected test uses the result;
    stopped by the controlling process as the whole run ends (pytest_unconfigure)."""
    if any(_waits(item) for item in request.session.items):
        background_runs.start()
    yield


@pytest.fixture(scope="session")
def corrupted_run() -> dict:
    """The quick-preset run on the demo set with seeded label corruptions (label_corruption.py,
    background_runs.py): {"ws", "run", "corruptions", "dataset", "metrics"}."""
    return background_runs.wait_for("corrupted")


@pytest.fixture(scope="session")
def starved_run() -> dict:
    """A run on demo images whose train split has about 10 "head" boxes (background_runs.py):
    {"ws", "run", "dataset", "metrics", "train_heads"}."""
    return background_runs.wait_for("starved")


@pytest.fixture(scope="session")
def shapes_model(tmp_path_factory) -> dict:
    """A yolov11n really trained on drawn shapes (video_fixtures.py; about 30 s), shared by the
    video tests and the /demo video page: {"workspace", "weights", "metrics"}. Read-only."""
    return video_fixtures.train_shapes_model(tmp_path_factory.mktemp("shapes-model"))


@pytest.fixture(scope="session")
def shapes_clip(tmp_path_factory) -> Path:
    """The generated 5-second clip of those shapes moving (H.264 in .mp4)."""
    return video_fixtures.write_clip(tmp_path_factory.mktemp("clip") / "shapes.mp4")


def pytest_unconfigure(config):
    if not _WORKER:  # the workers are done: the trainings they shared end here
        background_runs.stop()
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
