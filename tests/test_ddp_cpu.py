"""Two CPU ranks training one model together (torchrun, gloo, DistributedDataParallel).

Ultralytics wraps the model in DDP only on GPUs; on the CPU each rank would train a model of its
own on half the data. These runs are real (2 ranks on this 2-core machine, yolov11n at 64 px on
the 16-image tiny set): after every epoch both ranks' parameters are identical, which they would
not be without DDP (the ranks are seeded apart and read different images), each rank reads half
of the train images, only rank 0 records the run, a stop ends both ranks in the same batch and a
resume brings both back, and a killed rank fails the run within a bounded time instead of
hanging its peer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import yolov11
from yolov11.training import ranks

from helpers import ROOT, free_port

TRAIN_IMAGES, VAL_IMAGES = 12, 4  # the tiny set's splits (16 images, a quarter in val)
BATCH = 4  # the global batch: each of the 2 ranks takes 2 images of it
EPOCHS = 5  # of the stopped and resumed run


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_zip):
    ws = yolov11.Workspace.at(tmp_path_factory.mktemp("ddp-cpu") / "ws")
    yolov11.import_dataset(tiny_zip, workspace=ws)
    return ws


@pytest.fixture(scope="module")
def two_ranks(ws):
    """One run of 2 epochs through the CLI: train --device cpu --nproc-per-node 2."""
    p = subprocess.run(
        [sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "train", "--data", "hardhat-tiny", "--model", "yolov11n",
         "--device", "cpu", "--nproc-per-node", "2", "--epochs", "2", "--imgsz", "64", "--batch", str(BATCH),
         "--extra", json.dumps({"plots": False}), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


def _events(run_dir) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "events.jsonl").read_text().splitlines()]


def test_both_ranks_train_one_model(two_ranks):
    assert two_ranks["status"] == "done"
    records = ranks.read(two_ranks["dir"])
    assert [r["rank"] for r in records] == [0, 1]
    assert {r["world_size"] for r in records} == {2}
    assert all(r["ddp"] for r in records)
    assert [r["epoch"] for r in records] == [2, 2]
    # Identical parameters after the epoch: DDP averaged the gradients (the ranks are seeded apart and
    # see different images, so without it the checksums differ; see the next test's one-process rank).
    assert records[0]["checksum"] == records[1]["checksum"]
    assert len(records[0]["checksum"]) == 64
    # Each rank reads half of the train images, in batches of half the global batch: at the same global batch
    # a rank makes as many optimizer steps as a single process, over half the images.
    for r in records:
        assert r["images"] == TRAIN_IMAGES // 2
        assert r["batch_size"] == BATCH // 2
        assert r["batches"] == -(-r["images"] // r["batch_size"])
    assert records[0]["pid"] != records[1]["pid"]


def test_every_validation_counts_every_val_image(two_ranks):
    """Each epoch's validation gathers both ranks' halves; the final one (best.pt, rank 0 alone) reads the
    whole split itself rather than the training's loader, which holds only rank 0's half."""
    rows = [re.match(r"^\s*all\s+(\d+)\s+(\d+)", e["message"]) for e in _events(two_ranks["dir"]) if e["type"] == "log"]
    counts = [(int(m.group(1)), int(m.group(2))) for m in rows if m]
    assert len(counts) == 3  # 2 epochs + the final validation
    assert {images for images, _ in counts} == {VAL_IMAGES}
    assert len({boxes for _, boxes in counts}) == 1


def test_only_rank_0_records(two_ranks, ws):
    events = _events(two_ranks["dir"])
    running = [e for e in events if e["type"] == "status" and e["status"] == "running"]
    assert len(running) == 1  # rank 1 wrote nothing
    assert (running[0]["world_size"], running[0]["ddp"]) == (2, True)
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2]
    record = ws.require_run(two_ranks["run"])
    assert (record["world_size"], record["ddp"]) == (2, 1)
    assert record["pid"] == ranks.read(two_ranks["dir"])[0]["pid"]  # the registry row is rank 0's
    listed = {r["id"]: r for r in yolov11.Workspace.at(ws.root).runs()}
    assert listed[two_ranks["run"]]["world_size"] == 2
    p = subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "runs", "--json"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    row = next(r for r in json.loads(p.stdout) if r["id"] == two_ranks["run"])
    assert (row["world_size"], row["ddp"]) == (2, True)


def test_a_stop_ends_both_ranks_and_a_resume_continues_both(ws):
    stop = threading.Event()

    def on_event(event):  # stop once the second epoch has begun (resuming needs one whole epoch)
        if event["type"] == "batch" and event["epoch"] >= 2:
            stop.set()

    r = yolov11.train("hardhat-tiny", "yolov11n", workspace=ws, device="cpu", launch=yolov11.Launch(2, master_port=free_port()),
                      epochs=EPOCHS, imgsz=64, batch=BATCH, plots=False, stop=stop, on_event=on_event)
    assert r["status"] == "stopped"
    stopped = ranks.read(r["dir"])
    # Both ranks left in the same epoch (the all-reduced stop flag; the launcher reads the events 4x a second, so
    # the stop lands a few batches after the report), before the last one.
    assert stopped[0]["epoch"] == stopped[1]["epoch"] < EPOCHS
    assert stopped[0]["checksum"] == stopped[1]["checksum"]
    resumed = yolov11.resume(r["run"], workspace=ws)
    assert resumed["status"] == "done"
    after = ranks.read(r["dir"])
    assert [a["epoch"] for a in after] == [EPOCHS, EPOCHS]
    assert after[0]["checksum"] == after[1]["checksum"]
    assert {a["pid"] for a in after}.isdisjoint({s["pid"] for s in stopped})  # two new ranks
    running = [e for e in _events(r["dir"]) if e["type"] == "status" and e["status"] == "running"]
    assert [(e["world_size"], e["ddp"]) for e in running] == [(2, True), (2, True)]


def test_a_killed_rank_fails_the_run_instead_of_hanging(ws):
    killed: list[int] = []

    def on_event(event):
        if event["type"] == "batch" and not killed:
            run_dir = Path(ws.runs_dir) / event["run"]
            rank1 = next(r for r in ranks.read(run_dir) if r["rank"] == 1)
            os.kill(rank1["pid"], signal.SIGKILL)
            killed.append(rank1["pid"])

    t0 = time.time()
    with pytest.raises(yolov11.UserError) as err:
        yolov11.train("hardhat-tiny", "yolov11n", workspace=ws, device="cpu", launch=yolov11.Launch(2, master_port=free_port()),
                      epochs=50, imgsz=64, batch=BATCH, plots=False, on_event=on_event)
    took = time.time() - t0
    assert killed
    assert took < 150, f"the run took {took:.0f} s to fail"  # torchrun gives a surviving rank 30 s after SIGTERM
    run = str(err.value).split(":")[0].removeprefix("run ")
    record = ws.require_run(run)
    assert record["status"] == "failed"
    message = record["metrics"]["error"]
    assert message and "\n" not in str(err.value).split(" (see ")[0]
    # rank 0 says it lost its peer (when it records the failure first), or the launcher gives torchrun's end
    assert "lost the others: another training process of this run ended" in message or "torchrun exited" in message, message
    assert "pair.cc" not in message
    assert _events(record["dir"])[-1]["status"] == "failed"
