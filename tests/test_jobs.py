"""The training queue, recovery of runs whose process died, and following events.jsonl written
by another process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yolov11
from yolov11.training.events import read_events
from yolov11.training.jobs import TrainingJobs, devices_of, startable, training_niceness

from helpers import ROOT


def _wait(pred, timeout: float = 300, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_queue_runs_in_order_and_cancels(tiny_zip, workspace):
    yolov11.import_dataset(tiny_zip, workspace=workspace)
    jobs = TrainingJobs(workspace)
    tiny = dict(epochs=1, imgsz=64, batch=8)
    a = jobs.submit("hardhat-tiny", "yolov11n", **{**tiny, "epochs": 2})
    b = jobs.submit("hardhat-tiny", "yolov11n", **tiny)
    c = jobs.submit("hardhat-tiny", "yolov11n", **tiny)
    assert jobs.queued()[-2:] == [b, c]
    assert jobs.stop(c) == "stopped"  # cancelled while waiting: never starts
    _wait(lambda: workspace.run(b)["status"] in ("done", "failed"), what=f"run {b}")
    assert workspace.run(a)["status"] == workspace.run(b)["status"] == "done"
    started = {r: read_events(workspace.runs_dir / r / "events.jsonl")[0][0]["t"] for r in (a, b)}
    assert started[a] < started[b]
    assert workspace.run(c)["status"] == "stopped"
    assert not (workspace.runs_dir / c / "events.jsonl").exists()


def test_a_killed_training_is_marked_interrupted_and_resumes(tiny_zip, workspace):
    yolov11.import_dataset(tiny_zip, workspace=workspace)
    env = {**os.environ, "YOLOV11_WORKSPACE": str(workspace.root)}
    proc = subprocess.Popen([sys.executable, "-m", "yolov11", "train", "--data", "hardhat-tiny", "--epochs", "30", "--imgsz", "64",
                             "--batch", "2"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run = _wait(lambda: workspace.runs() and workspace.runs()[0]["id"], what="the run to register")
        events = workspace.runs_dir / run / "events.jsonl"
        _wait(lambda: any(e["type"] == "epoch" for e in read_events(events)[0]), what="a finished epoch")
        jobs = TrainingJobs(workspace)  # what the app does when it starts: reconcile the workspace
        assert run not in jobs.reconciled["interrupted"] + jobs.reconciled["failed"]
        assert workspace.run(run)["status"] == "running"  # its process is alive: left alone
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    TrainingJobs(workspace)  # what the app does when it starts
    assert workspace.run(run)["status"] == "interrupted"
    result = yolov11.resume(run, epochs=len([e for e in read_events(events)[0] if e["type"] == "epoch"]) + 1, workspace=workspace)
    assert result["status"] == "done"


def test_following_events_written_by_another_process(tmp_path):
    path = tmp_path / "events.jsonl"
    writer = (
        "import json, sys, time\n"
        "f = open(sys.argv[1], 'a')\n"
        "for i in range(50):\n"
        "    line = json.dumps({'t': time.time(), 'run': 'r', 'type': 'batch', 'batch': i}) + '\\n'\n"
        "    f.write(line[:10]); f.flush(); time.sleep(0.005)  # a line arrives in two pieces\n"
        "    f.write(line[10:]); f.flush()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer, str(path)])
    seen, offset = [], 0
    while proc.poll() is None or offset < (path.stat().st_size if path.exists() else 0):
        events, offset = read_events(path, offset)
        seen += events
        time.sleep(0.01)
    assert [e["batch"] for e in seen] == list(range(50))
    assert json.loads(path.read_text().splitlines()[-1])["batch"] == 49


def _session(epochs: int, start: tuple[int, int], end: tuple[int, int], nb: int = 10) -> list[dict]:
    """The events one process writes while it trains batches ``start``..``end`` (epoch, batch;
    inclusive) of a run planned for ``epochs``, a batch event every third batch and at each
    epoch's last, as runner.py writes them."""
    out = [{"type": "status", "status": "running", "epochs": epochs}]
    for epoch in range(start[0], end[0] + 1):
        first, last = (start[1] if epoch == start[0] else 1), (end[1] if epoch == end[0] else nb)
        for b in range(first, last + 1):
            if b % 3 == 0 or b == nb or b == first:
                out.append({"type": "batch", "epoch": epoch, "epochs": epochs, "batch": b, "batches": nb, "lr": 0.01, "images_per_s": 9.0,
                            "eta_s": 1.0, "gpu_mem_gb": None,
                            "losses": {"box_loss": 2.0 - epoch / 10 - b / 100, "cls_loss": 3.0, "dfl_loss": 1.5}})
        if last == nb:
            out += [{"type": "log", "level": "info", "message": f"{epoch}/{epochs} row"},
                    {"type": "epoch", "epoch": epoch, "epochs": epochs, "train_losses": {"box_loss": 1.0}, "val_losses": {"box_loss": 1.1},
                     "metrics": {"mAP50": epoch / 10}, "lr": 0.01, "epoch_time_s": 3.0}]
    return out


def test_progress_never_goes_back_for_one_target_and_each_poll_reads_only_what_is_new(workspace):
    """A viewer polls run_status while the events arrive, one line at a time: stopped after batch
    7 of epoch 2 (of 3), resumed (epoch 2 re-run from its start: progress used to fall from 0.53
    to 0.37), then resumed to 5 epochs (a new target: less of it is done)."""
    run, whole = "20260101-000000-yolov11n", "20260101-000001-yolov11n"
    for run_id in (run, whole):
        workspace.add_run(run_id, "demo-hardhat", "yolov11n", {"epochs": 3}, status="running")
    lines = _session(3, (1, 1), (2, 7)) + [{"type": "status", "status": "stopped"}]
    lines += _session(3, (2, 1), (3, 10)) + [{"type": "status", "status": "done"}] + _session(5, (4, 1), (5, 3))
    path = workspace.runs_dir / run / "events.jsonl"
    seen = []
    for i, fields in enumerate(lines):
        line = json.dumps({"t": 1000.0 + i, "run": run, **fields}) + "\n"
        with open(path, "a") as f:  # a line arrives in two writes, as a reader may catch it
            f.write(line[:15])
            f.flush()
            seen.append(yolov11.run_status(run, workspace))
            f.write(line[15:])
        seen.append(yolov11.run_status(run, workspace))
    progress = [(s["epochs"], s["progress"]) for s in seen]
    for (target, p), (next_target, q) in zip(progress, progress[1:]):
        assert q >= p or next_target != target, (target, p, q)
    assert progress[-1] == (5, 43 / 50)  # batch 3 of epoch 5
    assert (workspace.runs_dir / whole / "events.jsonl").write_text(path.read_text())
    at_once = yolov11.run_status(whole, workspace)  # the same file folded in one read
    for key in ("epoch", "epochs", "progress", "history", "batches", "log", "metrics", "duration_s", "val_mAP50"):
        assert seen[-1][key] == at_once[key], key
    assert [h["epoch"] for h in at_once["history"]] == [1, 2, 3, 4]
    path.write_text(json.dumps({"t": 1.0, "run": run, **lines[0]}) + "\n")  # the run's folder now holds another run's file
    assert yolov11.run_status(run, workspace)["history"] == []


def test_a_status_that_would_wait_is_not_answered_at_once(workspace):
    """run_status(wait=False), what the app answers in its event loop, never blocks: None while
    another reader folds the run or much of its file is unread; the waiting call then answers."""
    from yolov11.training import status

    run = "20260101-000002-yolov11n"
    workspace.add_run(run, "demo-hardhat", "yolov11n", {"epochs": 3}, status="running")
    path = workspace.runs_dir / run / "events.jsonl"
    lines = _session(3, (1, 1), (3, 10))
    path.write_text("".join(json.dumps({"t": 1000.0 + i, "run": run, **f}) + "\n" for i, f in enumerate(lines)))
    path.write_text(path.read_text() * (status.QUICK_BYTES // path.stat().st_size + 1))  # a long run's file, not folded yet
    assert yolov11.run_status(run, workspace, wait=False) is None
    assert yolov11.run_status(run, workspace)["epoch"] == 3  # folded now
    assert yolov11.run_status(run, workspace, wait=False)["epoch"] == 3  # nothing unread: at once
    fold = status.folded(path)
    with fold.lock:  # another viewer's thread reading the run
        assert yolov11.run_status(run, workspace, wait=False) is None


def test_one_run_per_device_first_come_first_served():
    # The scheduling rule on its own (this machine has one device, the CPU, which the queue test
    # above exercises for real): a run starts when its devices are free and no older waiting
    # run wants any of them.
    w = lambda *runs: [(name, devices_of(device)) for name, device in runs]  # noqa: E731
    assert devices_of("0,1") == {"0", "1"}
    assert devices_of("cpu") == devices_of(None) == {"cpu"}
    assert startable(w(("a", "0"), ("b", "1"), ("c", "0,1"), ("d", "1")), set()) == ["a", "b"]
    assert startable(w(("c", "0,1"), ("d", "1"), ("e", "2")), {"0"}) == ["e"]  # d waits behind c on GPU 1
    assert startable(w(("x", "cpu"), ("y", "cpu"), ("g", "0")), set()) == ["x", "g"]
    assert startable(w(("y", "cpu")), {"cpu"}) == []


def test_the_training_niceness_is_the_apps_unless_asked(monkeypatch, caplog):
    """Default 0 (a nicer training thread held the GIL while descheduled and slowed the app's
    requests: bench/load_status.py); YOLOV11_TRAINING_NICENESS sets it, a bad value is said once."""
    monkeypatch.delenv("YOLOV11_TRAINING_NICENESS", raising=False)
    assert training_niceness() == 0
    monkeypatch.setenv("YOLOV11_TRAINING_NICENESS", "7")
    assert training_niceness() == 7
    for bad in ("-3", "20", "ten"):
        monkeypatch.setenv("YOLOV11_TRAINING_NICENESS", bad)
        with caplog.at_level("WARNING", logger="yolov11"):
            assert training_niceness() == 0
        assert f"YOLOV11_TRAINING_NICENESS={bad}: not a niceness from 0 to 19" in caplog.text

