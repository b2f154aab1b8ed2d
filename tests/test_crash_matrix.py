"""A crash matrix: a real SIGKILL during import, at training start, mid-epoch, during a
checkpoint save and during an export. After each, a new process (what starting the app or any
CLI command does) must find a registry that passes ``PRAGMA integrity_check``, every run
``interrupted`` and resumable or cleanly ``failed``, no half dataset listed and no scratch left.

Where the moment matters (inside the import's file placement, inside Ultralytics' trainer set-up,
half-way through writing last.pt, inside the ONNX export), the CLI runs under a small launcher
that makes one library call of that moment kill its own process with SIGKILL: the kill is real,
and it lands at the same point every run (a timer would be flaky). Mid-epoch, the test itself
kills the process once a batch event of epoch 2 is written.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import yolov11
from yolov11.training.events import read_events

from helpers import ROOT

TRAIN = ["train", "--data", "hardhat-tiny", "--model", "yolov11n", "--epochs", "3", "--imgsz", "32", "--batch", "4"]

# Each launcher line runs before the CLI: it wraps one library function so that its n-th call
# (at the moment named) SIGKILLs the process.
KILL_AT = {
    # the importer places images with shutil.move (zip) / os.link (folder): die at the 5th
    "import": "import shutil, os, signal; _m = shutil.move; _n = [0]\n"
    "def move(*a, **k):\n    _n[0] += 1\n    if _n[0] == 5: os.kill(os.getpid(), signal.SIGKILL)\n    return _m(*a, **k)\n"
    "shutil.move = move",
    # Ultralytics builds its trainer: die while it sets up (run registered as running, no epoch yet)
    "training start": "import os, signal\nfrom yolov11.compat import offline; offline.prepare()\nfrom ultralytics.engine import trainer\n"
    "trainer.BaseTrainer._setup_train = lambda self, *a, **k: os.kill(os.getpid(), signal.SIGKILL)",
    # the trainer writes last.pt at the end of epoch 2: write half of it, then die
    "checkpoint save": "import os, signal, pathlib; _w = pathlib.Path.write_bytes; _n = [0]\n"
    "def write_bytes(self, data):\n    if self.name == 'last.pt':\n        _n[0] += 1\n"
    "        if _n[0] == 2:\n            _w(self, data[: len(data) // 2]); os.kill(os.getpid(), signal.SIGKILL)\n"
    "    return _w(self, data)\n"
    "pathlib.Path.write_bytes = write_bytes",
    # torch's ONNX exporter is at work inside the export's scratch folder: die there
    "export": "import os, signal, torch.onnx\ntorch.onnx.export = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)",
}


def _cli(ws: yolov11.Workspace, *args: str, kill_at: str | None = None, wait: bool = True):
    """The CLI in a new process (under the kill launcher when ``kill_at``): its finished
    CompletedProcess, or the running Popen when not ``wait``."""
    launcher = (KILL_AT[kill_at] + "\n") if kill_at else ""
    code = f"{launcher}import sys\nfrom yolov11.__main__ import main\nsys.exit(main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", code, *args]
    env = {**os.environ, "YOLOV11_WORKSPACE": str(ws.root)}
    if wait:
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _after_restart(ws: yolov11.Workspace) -> dict:
    """What a fresh process sees: `runs --json` and `datasets --json` in a new CLI process
    (which reconciles first), plus the registry's own integrity check."""
    runs = _cli(ws, "runs", "--json")
    datasets = _cli(ws, "datasets", "--json")
    assert runs.returncode == 0, (runs.stderr, datasets.stderr)
    assert datasets.returncode == 0, (runs.stderr, datasets.stderr)
    with sqlite3.connect(ws.root / "registry.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    leftovers = [*ws.datasets_dir.glob(".import-*"), *ws.exports_dir.glob("*/export-*")]
    assert leftovers == [], leftovers
    return {"runs": {r["id"]: r for r in json.loads(runs.stdout)}, "datasets": [d["name"] for d in json.loads(datasets.stdout)]}


def _settled(state: dict) -> None:
    """No run is left queued or running, and each ended one is resumable or says why it failed."""
    for run in state["runs"].values():
        assert run["status"] in ("done", "stopped", "interrupted", "failed"), run
        if run["status"] == "failed":
            assert (run["metrics"] or {}).get("error"), run


@pytest.fixture
def crash_ws(tmp_path, tiny_zip):
    ws = yolov11.Workspace.at(tmp_path / "ws")
    yolov11.import_dataset(tiny_zip, workspace=ws)
    return ws


def test_sigkill_during_import_leaves_no_half_dataset(crash_ws, tiny_zip):
    proc = _cli(crash_ws, "import", str(tiny_zip), "--name", "half", kill_at="import")
    assert proc.returncode == -signal.SIGKILL
    assert list(crash_ws.datasets_dir.glob(".import-*")), "the kill should have left scratch for the restart to clean"
    state = _after_restart(crash_ws)
    assert state["datasets"] == ["hardhat-tiny"]
    assert not (crash_ws.datasets_dir / "half").exists()
    again = _cli(crash_ws, "import", str(tiny_zip), "--name", "half", "--json")  # the same import works afterwards
    assert again.returncode == 0
    assert json.loads(again.stdout)["name"] == "half"


def test_sigkill_at_training_start_fails_the_run_cleanly(crash_ws):
    proc = _cli(crash_ws, *TRAIN, kill_at="training start")
    assert proc.returncode == -signal.SIGKILL
    (run,) = crash_ws.runs()
    assert run["status"] == "running"  # what the dead process left
    state = _after_restart(crash_ws)
    _settled(state)
    after = state["runs"][run["id"]]
    assert after["status"] == "failed"
    assert "no epoch had been saved" in after["metrics"]["error"]


def test_sigkill_mid_epoch_is_interrupted_and_resumes(crash_ws):
    # 30 planned epochs of 6 batches (batch 2): long enough to be caught inside an epoch after the first
    proc = _cli(crash_ws, "train", "--data", "hardhat-tiny", "--epochs", "30", "--imgsz", "64", "--batch", "2", wait=False)
    killed_in = None
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and killed_in is None:
            runs = crash_ws.runs()
            events = read_events(Path(runs[0]["dir"]) / "events.jsonl")[0] if runs else []
            inside = [e for e in events if e["type"] == "batch" and e["epoch"] >= 2 and e["batch"] < e["batches"]]
            if inside:
                proc.send_signal(signal.SIGKILL)
                killed_in = inside[-1]["epoch"]
            time.sleep(0.02)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the run was not caught inside an epoch"
    assert killed_in, "the run was not caught inside an epoch"
    run_id = crash_ws.runs()[0]["id"]
    state = _after_restart(crash_ws)
    _settled(state)
    assert state["runs"][run_id]["status"] == "interrupted"
    events_file = Path(state["runs"][run_id]["dir"]) / "events.jsonl"
    saved = max(e["epoch"] for e in read_events(events_file)[0] if e["type"] == "epoch")  # the last epoch whose checkpoint was written
    resumed = _cli(crash_ws, "resume", "--run", run_id, "--epochs", str(saved + 1), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "done"
    epochs = [e["epoch"] for e in read_events(events_file)[0] if e["type"] == "epoch"]
    assert epochs == list(range(1, saved + 2))  # the epoch that was killed is trained again, whole


def test_sigkill_while_saving_a_checkpoint_resumes_from_the_previous_epoch(crash_ws):
    proc = _cli(crash_ws, *TRAIN, kill_at="checkpoint save")
    assert proc.returncode == -signal.SIGKILL
    (run,) = crash_ws.runs()
    weights = Path(run["dir"]) / "weights"
    with pytest.raises(yolov11.UserError):  # last.pt is cut in half
        yolov11.checkpoints.load(weights / "last.pt")
    state = _after_restart(crash_ws)
    _settled(state)
    assert state["runs"][run["id"]]["status"] == "interrupted"  # resume.pt of epoch 1 is whole
    resumed = _cli(crash_ws, "resume", "--run", run["id"], "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "done"


def test_sigkill_during_export_leaves_no_scratch(crash_ws):
    done = yolov11.train("hardhat-tiny", "yolov11n", epochs=1, imgsz=32, batch=4, workspace=crash_ws, plots=False)
    proc = _cli(crash_ws, "export", "--run", done["run"], "--format", "onnx", kill_at="export")
    assert proc.returncode == -signal.SIGKILL
    assert list(crash_ws.exports_dir.glob("*/export-*")), "the kill should have left the exporter's scratch"
    state = _after_restart(crash_ws)
    _settled(state)
    assert state["runs"][done["run"]]["status"] == "done"
    again = _cli(crash_ws, "export", "--run", done["run"], "--format", "onnx", "--json")
    assert again.returncode == 0, again.stderr
    assert Path(json.loads(again.stdout)["path"]).is_file()
