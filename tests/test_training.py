"""Real (tiny) Ultralytics training through yolov11.train: events, registry, stop."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import yolov11
from yolov11.training.events import read_events


def column_ends(line: str) -> list[int]:
    """Where each of a table line's columns ends (Ultralytics right-aligns them)."""
    return [m.end() for m in re.finditer(r"\S+", line)]


def test_two_epoch_run_writes_complete_ordered_events(tiny_zip, workspace):
    yolov11.import_dataset(tiny_zip, workspace=workspace)
    seen = []
    result = yolov11.train("hardhat-tiny", "yolov11n", epochs=2, imgsz=64, batch=4, workspace=workspace, on_event=seen.append)
    assert result["status"] == "done"
    assert set(result["metrics"]) == {"precision", "recall", "mAP50", "mAP50-95"}
    events, _ = read_events(Path(result["dir"]) / "events.jsonl")
    assert [e["type"] for e in events] == [e["type"] for e in seen]  # subscribers see what the file holds
    assert all(e["run"] == result["run"] for e in events)
    statuses = [e["status"] for e in events if e["type"] == "status"]
    assert statuses == ["running", "done"]
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2]
    kinds = [e["type"] for e in events]
    batches = [e for e in events if e["type"] == "batch"]
    assert all(e["gpu_mem_gb"] is None and e["images_per_s"] > 0 and e["eta_s"] >= 0 for e in batches)  # CPU: no GPU memory to show
    assert kinds.index("batch") < kinds.index("epoch")
    assert kinds[-1] == "status"
    first_epoch = next(e for e in events if e["type"] == "epoch")
    assert set(first_epoch["train_losses"]) == {"box_loss", "cls_loss", "dfl_loss"}
    assert "mAP50" in first_epoch["metrics"]
    assert any(e["type"] == "log" and "Ultralytics" in e["message"] for e in events)
    times = [e["t"] for e in events]
    assert times == sorted(times)
    record = workspace.run(result["run"])
    assert record["status"] == "done"
    assert record["dataset"] == "hardhat-tiny"
    assert record["metrics"] == result["metrics"]
    assert json.loads((Path(result["dir"]) / "run.json").read_text())["status"] == "done"
    assert Path(result["weights"]).is_file()
    status = yolov11.run_status(result["run"], workspace)
    assert status["progress"] == 1.0
    assert len(status["history"]) == 2
    assert status["batches"]
    log = [e["message"] for e in events if e["type"] == "log"]
    # Ultralytics prints each epoch's row and the validation's header through its progress bar:
    # the log had its "Epoch ... Size" header followed by the validation's "all 4 15 ..." row.
    headers = [i for i, line in enumerate(log) if line.split()[:3] == ["Epoch", "GPU_mem", "box_loss"]]
    assert len(headers) == 2
    for epoch, i in enumerate(headers, 1):
        header, row, val_header, val_row = log[i:i + 4]
        assert re.fullmatch(rf" +{epoch}/2 +0G( +[\d.e+-]+){{3}} +- +64", row), row  # CPU: 0G, as Ultralytics says
        assert column_ends(row) == column_ends(header), (header, row)
        assert val_header.split() == ["Class", "Images", "Instances", "Box(P", "R", "mAP50", "mAP50-95)"]
        assert val_row.split()[0] == "all" and column_ends(val_row) == column_ends(val_header), (val_header, val_row)
    assert not [line for line in log if set(line) & set("\U0001F680\u2705\u26A0\u274C\uFE0F")]  # no emoji: boxes without an emoji font
    # "Ultralytics 8.4.190 🚀 Python-..." without its rocket
    assert any(line.startswith("Ultralytics ") and " Python-" in line for line in log)


def test_stop_ends_the_run_within_one_batch(tiny_zip, workspace):
    yolov11.import_dataset(tiny_zip, workspace=workspace)
    stop = threading.Event()
    requested_at = []

    def on_event(e):
        if e["type"] == "batch" and not stop.is_set():
            requested_at.append(e["batch"])
            stop.set()

    result = yolov11.train("hardhat-tiny", "yolov11n", epochs=5, imgsz=64, batch=2, workspace=workspace, stop=stop, on_event=on_event,
                           plots=False)
    assert result["status"] == "stopped"
    events, _ = read_events(Path(result["dir"]) / "events.jsonl")
    batches = [e for e in events if e["type"] == "batch"]
    assert batches[0]["batches"] == 6
    assert requested_at == [1]
    assert max(e["batch"] for e in batches) <= requested_at[0] + 1
    assert max(e["epoch"] for e in batches) == 1
    assert (Path(result["dir"]) / "weights" / "last.pt").is_file()
    assert workspace.run(result["run"])["status"] == "stopped"


def test_bad_settings_are_refused_before_anything_starts(workspace):
    import pytest

    yolov11.ensure_demo_dataset(workspace)
    for kwargs, message in [
        ({"imgsz": 100}, "--imgsz 100: must be a multiple of 32"),
        ({"epochs": 0}, "--epochs 0: must be a positive integer"),
        ({"device": "7"}, "--device 7: GPU 7 not found"),
        ({"device": "gpu"}, "--device gpu: use 'cpu'"),
    ]:
        with pytest.raises(yolov11.UserError, match=message):
            yolov11.train("demo-hardhat", **kwargs, workspace=workspace)
    with pytest.raises(yolov11.UserError, match="--model yolov12q: not a zoo model"):
        yolov11.train("demo-hardhat", "yolov12q", workspace=workspace)
    with pytest.raises(yolov11.UserError, match="--data nope: not a dataset"):
        yolov11.train("nope", workspace=workspace)
    assert workspace.runs() == []


def test_resume_continues_a_stopped_run_and_extends_a_finished_one(tiny_zip, workspace):
    yolov11.import_dataset(tiny_zip, workspace=workspace)
    stop = threading.Event()

    def stop_after_epoch_one(e):
        if e["type"] == "epoch":
            stop.set()  # takes effect at the first batch of epoch 2, which Ultralytics then saves as epoch 2

    first = yolov11.train("hardhat-tiny", "yolov11n", epochs=3, imgsz=64, batch=4, workspace=workspace, stop=stop,
                          on_event=stop_after_epoch_one, plots=False)
    assert first["status"] == "stopped"
    resumed = yolov11.resume(first["run"], workspace=workspace)
    assert resumed["status"] == "done"
    assert resumed["dir"] == first["dir"]
    more = yolov11.resume(first["run"], epochs=4, workspace=workspace)
    assert more["status"] == "done"
    events, _ = read_events(Path(first["dir"]) / "events.jsonl")
    # Stopped after batch 1 of epoch 2: the resume re-runs epoch 2 whole (its first pass is kept in the events).
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2, 2, 3, 4]
    assert any("resuming re-runs epoch 2" in e.get("message", "") for e in events if e["type"] == "log")
    assert [h["epoch"] for h in yolov11.run_status(first["run"], workspace)["history"]] == [1, 2, 3, 4]
    assert [e["status"] for e in events if e["type"] == "status"] == ["running", "stopped", "running", "done", "running", "done"]
    assert workspace.run(first["run"])["status"] == "done"
    assert workspace.run(first["run"])["settings"]["epochs"] == 4
    import pytest

    with pytest.raises(yolov11.UserError, match="has done 4 of 4 epochs: pass --epochs N with N > 4"):
        yolov11.resume(first["run"], workspace=workspace)
    # The ETA of a resumed run comes from its own pace. From 3 epochs done, the first batch of
    # epoch 4 said 0.0 s for the 2 batches left (that process's time over all 10 batches of the
    # run), where they took 0.13-0.31 s; now about the time they take (1.0-1.5x in 10 runs here).
    first, *_, last = [e for e in events[max(i for i, e in enumerate(events) if e.get("status") == "running"):] if e["type"] == "batch"]
    assert (first["epoch"], first["batch"], last["batch"]) == (4, 1, 3)
    assert first["eta_s"] >= 0.4 * (last["t"] - first["t"]), (first, last)


def test_settings_report_every_bad_field_and_presets_are_valid():
    from yolov11.training.settings import PRESETS, TrainSettings

    problems = TrainSettings(imgsz=100, lr0=0, mosaic=2.0, optimizer="Lion", cache="gpu", fraction=0, batch=0).problems()
    assert set(problems) == {"imgsz", "lr0", "mosaic", "optimizer", "cache", "fraction", "batch"}
    assert problems["optimizer"].startswith("--optimizer Lion: choose one of auto, SGD")
    assert problems["mosaic"] == "--mosaic 2.0: must be between 0 and 1"
    for name, preset in PRESETS.items():
        assert TrainSettings(**preset).problems() == {}, name
    assert PRESETS["quick look"]["epochs"] == TrainSettings().epochs


def test_gpu_runs_get_workers_amp_and_a_ram_cache_where_left_at_the_defaults():
    from yolov11.machine import usable_cpus
    from yolov11.training.settings import TrainSettings

    cpu = TrainSettings().ultralytics_args()  # CPU behaviour is unchanged
    assert (cpu["workers"], cpu["cache"], cpu["amp"]) == (0, False, False)
    one = TrainSettings(device="0").ultralytics_args()  # built without validate(): no GPU needed here
    assert (one["workers"], one["cache"], one["amp"]) == (max(1, min(16, usable_cpus())), "ram", True)
    two = TrainSettings(device="0,1").ultralytics_args()
    assert (two["workers"], two["cache"]) == (max(1, min(16, usable_cpus() // 2)), False)  # each rank would cache its own copy
    chosen = TrainSettings(device="0", workers=3, cache="disk").ultralytics_args()
    assert (chosen["workers"], chosen["cache"]) == (3, "disk")
    assert TrainSettings(device="0", extra={"workers": 0, "cache": False}).ultralytics_args()["workers"] == 0


def test_the_tensorboard_graph_trace_is_left_out_and_its_other_callbacks_kept():
    from types import SimpleNamespace

    from yolov11.compat import offline

    offline.prepare()  # before Ultralytics is imported: its settings live in the workspace
    from ultralytics.utils.callbacks import tensorboard

    from yolov11.compat.trainer import _drop_tensorboard_graph

    def ours(trainer):
        return None

    trainer = SimpleNamespace(callbacks={"on_train_start": [ours, tensorboard.on_train_start],
                                         "on_fit_epoch_end": [tensorboard.on_fit_epoch_end]})
    _drop_tensorboard_graph(trainer)
    assert trainer.callbacks == {"on_train_start": [ours], "on_fit_epoch_end": [tensorboard.on_fit_epoch_end]}
