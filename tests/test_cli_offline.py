"""The CLI flow import -> train -> eval -> export -> predict, in subprocesses behind the network
guard (tests/netguard refuses and logs any connection off this machine) and, where the tests
run as root, each inside a network namespace of its own with no network at all (``unshare
--net``: not even loopback is up); plus exit codes."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, netguard_log

NO_NETWORK = ["unshare", "--net", "--"] if os.geteuid() == 0 and shutil.which("unshare") else []


def cli(*args: str, workspace: Path, check: bool = True, isolated: bool = False) -> subprocess.CompletedProcess:
    # Without pytest's marker: Ultralytics switches its TensorBoard logging off under pytest.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | {"YOLOV11_WORKSPACE": str(workspace)}
    prefix = NO_NETWORK if isolated else []
    out = subprocess.run([*prefix, sys.executable, "-m", "yolov11", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert out.returncode == 0, f"{args}: exit {out.returncode}\n{out.stderr[-3000:]}"
    return out


def test_cli_flow_runs_offline(tmp_path, tiny_zip):
    ws = tmp_path / "ws"
    before = netguard_log()
    cli = functools.partial(globals()["cli"], isolated=True)  # every step with no network at all, where root allows
    if NO_NETWORK:
        probe = subprocess.run([*NO_NETWORK, sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9), timeout=2)"],
                               capture_output=True, text=True)
        assert probe.returncode != 0, probe.stderr
        assert "unreachable" in probe.stderr.lower(), probe.stderr  # the namespace really has no network
    imported = json.loads(cli("import", str(tiny_zip), "--name", "hats", "--json", workspace=ws).stdout)
    assert imported["name"] == "hats"
    assert imported["images"] == {"train": 12, "val": 4}
    assert [d["name"] for d in json.loads(cli("datasets", "--json", workspace=ws).stdout)] == ["hats"]

    train_out = cli("train", "--data", "hats", "--epochs", "1", "--imgsz", "64", "--batch", "8", "--json", workspace=ws).stdout
    run = json.loads(train_out.strip().splitlines()[-1])
    assert set(run) >= {"run", "dir", "status", "metrics"}
    assert run["status"] == "done"
    assert Path(run["dir"], "events.jsonl").is_file()
    assert Path(run["dir"], "weights", "best.pt").is_file()
    assert list(Path(run["dir"]).glob("events.out.tfevents.*")), "no TensorBoard event files in the run folder"
    runs = json.loads(cli("runs", "--json", workspace=ws).stdout)
    assert runs[0]["id"] == run["run"]
    assert runs[0]["dataset"] == "hats"
    assert runs[0]["model"] == "yolov11n"

    ev = json.loads(cli("eval", "--run", run["run"], "--json", workspace=ws).stdout)
    assert ev["metrics"].keys() == {"precision", "recall", "mAP50", "mAP50-95"}
    assert len(ev["per_class"]) == 3

    ex = json.loads(cli("export", "--run", run["run"], "--format", "onnx", "--verify", "--json", workspace=ws).stdout)
    assert Path(ex["path"]).suffix == ".onnx"
    assert Path(ex["path"]).is_file()
    assert ex["verify"]["max_abs_diff"] < 1e-3

    image = next((ws / "datasets" / "hats" / "images" / "val").glob("*.jpg"))
    pred = json.loads(cli("predict", "--weights", ex["path"], "--source", str(image), "--conf", "0.01", "--json", workspace=ws).stdout)
    assert Path(pred["images"][0]["annotated"]).is_file()

    after = netguard_log()
    assert after == before, f"network access attempted: {after[len(before):]}"


@pytest.mark.parametrize(
    "args, message",
    [
        (["import", "missing.zip"], "missing.zip: no such file or folder"),
        (["train", "--data", "nope"], "--data nope: not a dataset"),
        (["train", "--data", "x", "--epochs", "many"], "argument --epochs: invalid int value"),
        (["eval", "--coco-gt", "gt.json"], "--coco-gt and --coco-dt go together"),
        (["export", "--weights", "nothing.pt"], "--weights nothing.pt: no such file"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    out = cli(*args, workspace=tmp_path / "ws", check=False)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_coco_json_evaluation(tmp_path):
    gt = {
        "images": [{"id": 1, "width": 100, "height": 100}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "helmet"}],
    }
    dt = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "score": 0.9}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    out = json.loads(cli("eval", "--coco-gt", str(tmp_path / "gt.json"), "--coco-dt", str(tmp_path / "dt.json"), "--json",
                         workspace=tmp_path / "ws").stdout)
    assert list(out["coco"]) == ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    assert out["coco"]["AP"] == 1.0
    assert out["coco"]["APm"] == 1.0
    assert out["coco"]["APs"] == -1.0
