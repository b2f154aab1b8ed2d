"""A full disk during import and training: a clear error, and a consistent registry afterwards.

The workspace lives on a small tmpfs (mounting one needs root: elsewhere these tests skip and
say so); a ballast file fills it at the chosen moment.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import yolov11
from yolov11.training.events import read_events

from helpers import ROOT, write_yolo_folder

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"),
                                reason="mounting a small tmpfs workspace needs root (and mount)")


@pytest.fixture
def small_disk(tmp_path, request):
    mount = tmp_path / "disk"
    mount.mkdir()
    size = getattr(request, "param", "48m")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int = 0) -> Path:
    """Fill the disk, leaving about ``leave`` bytes free; returns the ballast file."""
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free - leave
    # Unbuffered: a buffered file keeps the bytes of a write that hit ENOSPC and raises it again
    # when the file is closed (which made this helper itself fail once the disk was full).
    with open(ballast, "ab", buffering=0) as f:
        try:
            while free > 0:
                written = f.write(b"\0" * min(free, 1 << 20))
                if not written:
                    break
                free -= written
        except OSError:  # ENOSPC: the disk is full
            pass
    return ballast


def _cli(ws_root: Path, *args: str, wait: bool = True):
    """The CLI in a new process: its CompletedProcess, or the running Popen when not ``wait``."""
    env = {**os.environ, "YOLOV11_WORKSPACE": str(ws_root)}
    cmd = [sys.executable, "-m", "yolov11", *args]
    if wait:
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _registry_ok(ws_root: Path) -> None:
    with sqlite3.connect(ws_root / "registry.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_import_onto_a_full_disk_says_so_and_adds_nothing(small_disk, tmp_path):
    ws = yolov11.Workspace.at(small_disk / "ws")
    source = write_yolo_folder(tmp_path / "hats", n_images=40, size=160)  # another filesystem: images are copied
    ballast = _fill(small_disk, leave=200_000)
    try:
        proc = _cli(ws.root, "import", str(source))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        line = lines[0]
        assert "disk is full" in line
        assert "nothing was added" in line
        assert "Traceback" not in proc.stderr
        listing = _cli(ws.root, "datasets", "--json")  # the registry still reads with the disk full
        assert listing.returncode == 0
        assert json.loads(listing.stdout) == []
    finally:
        ballast.unlink()
    _registry_ok(ws.root)
    assert list(ws.datasets_dir.iterdir()) == []  # no half dataset, no scratch
    assert _cli(ws.root, "import", str(source)).returncode == 0  # with space again, it imports


def test_zip_larger_than_the_free_space_is_refused_before_unpacking(small_disk, tiny_zip):
    ws = yolov11.Workspace.at(small_disk / "ws")
    ballast = _fill(small_disk, leave=50_000)
    try:
        proc = _cli(ws.root, "import", str(tiny_zip))
    finally:
        ballast.unlink()
    assert proc.returncode == 2, proc.stderr
    assert "free" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    _registry_ok(ws.root)
    assert ws.datasets() == []
    assert list(ws.datasets_dir.iterdir()) == []


@pytest.mark.parametrize("small_disk", ["200m"], indirect=True)  # a yolov11n checkpoint is ~25 MB, and a run keeps three
def test_disk_filling_up_during_training_ends_the_run_and_the_registry_recovers(small_disk, tiny_zip):
    ws = yolov11.Workspace.at(small_disk / "ws")
    yolov11.import_dataset(tiny_zip, workspace=ws)
    proc = _cli(ws.root, "train", "--data", "hardhat-tiny", "--epochs", "6", "--imgsz", "32", "--batch", "4", wait=False)
    ballast = None
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            runs = ws.runs()
            if runs and any(e["type"] == "epoch" for e in read_events(Path(runs[0]["dir"]) / "events.jsonl")[0]):
                break
            time.sleep(0.1)
        ballast = _fill(small_disk)  # full from epoch 2 on: its checkpoint cannot be written
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 2, (out, err)
        assert "disk is full" in err, err
        assert "Traceback" not in err, err
        listing = _cli(ws.root, "runs", "--json")  # even with the disk still full
        assert listing.returncode == 0, listing.stderr
        assert len(json.loads(listing.stdout)) == 1
    finally:
        proc.kill()
        if ballast:
            ballast.unlink()
    listing = _cli(ws.root, "runs", "--json")  # space again: a new process reconciles
    (run,) = json.loads(listing.stdout)
    _registry_ok(ws.root)
    assert run["status"] in ("interrupted", "failed"), run
    if run["status"] == "failed":
        assert "disk is full" in run["metrics"]["error"]
    resumed = _cli(ws.root, "resume", "--run", run["id"], "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "done"
