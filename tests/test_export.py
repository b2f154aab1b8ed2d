"""Every export option on the shared small trained model (128 px): the file is what was asked
for, and its verification (raw outputs, detections after NMS, mAP, latency) is real and written
next to it.

conf=0.001 everywhere: the detection check then compares hundreds of boxes, weak ones included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import yolov11

from helpers import ROOT, serving

FAST = {"conf": 0.001, "repeats": 2}  # two timed calls per latency number keep the suite quick


def export(trained_run, **options) -> dict:
    return yolov11.export_model(run=trained_run["run"], workspace=trained_run["workspace"], **FAST, **options)


def shape(model: onnx.ModelProto, value) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def assert_verified_like_eager(v: dict, tol: float = 1e-4, nms: bool = False) -> None:
    assert v["images"] == 8  # validation images (up to 8), letterboxed as deployed
    assert v["detections"]["eager"] > 0, v["detections"]
    assert v["detections_match"], v["detections"]
    assert v["detections"]["min_iou"] >= 0.99
    assert v["max_abs_diff_normalized" if "max_abs_diff_normalized" in v else "max_abs_diff"] < tol, v
    assert v["map50_95"]["eager"] > 0.1, v["map50_95"]  # the fixture model finds things: a real comparison
    if nms:  # eager is scored with multi-label NMS, the graph keeps one class a box: a little lower, said so
        assert -1e-3 < v["map50_95"]["eager"] - v["map50_95"]["exported"] < 0.08, v["map50_95"]
        assert "multi-label" in v["map50_95"]["note"], v["map50_95"]
    else:
        assert abs(v["map50_95"]["eager"] - v["map50_95"]["exported"]) < 1e-3, v["map50_95"]


def test_onnx_fp32_static_verifies_and_writes_report_and_bundle(trained_run):
    r = export(trained_run)
    path = Path(r["path"])
    assert path == trained_run["workspace"].exports_dir / trained_run["run"] / "best.onnx"
    model = onnx.load(str(path))
    assert shape(model, model.graph.input[0]) == [1, 3, 128, 128]
    assert shape(model, model.graph.output[0]) == [1, 7, 336]
    v = r["verify"]
    assert_verified_like_eager(v)
    lat = v["latency_ms"]
    assert lat["eager"] > 0
    assert lat["exported"] > 0
    assert lat["by_batch"]["1"]["speedup"] > 0
    assert lat["by_batch"]["8"]["exported"] is None
    assert "dimensions" in lat["by_batch"]["8"]["note"]  # a static export takes batch 1 only
    assert lat["by_batch"]["8"]["eager"] > 0
    assert json.loads(Path(r["report"]).read_text())["verify"]["detections"] == v["detections"]
    with zipfile.ZipFile(r["bundle"]) as zf:
        assert sorted(zf.namelist()) == ["README.md", "best.onnx", "infer.py", "metadata.json", "verification.json"]
        meta = json.loads(zf.read("metadata.json"))
    assert meta["class_names"] == ["helmet", "head", "vest"]
    assert meta["imgsz"] == [128, 128]
    assert meta["stride"] == 32
    assert meta["output"]["layout"] == "raw"
    assert meta["output"]["shape"] == [1, 7, 336]
    assert meta["letterbox"]["auto"] is False


def test_cli_batch_dynamic_nms_opset_json(trained_run):
    ws = trained_run["workspace"]
    cmd = [sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "export", "--run", trained_run["run"], "--dynamic", "batch", "--nms", "--opset", "12"]
    out = subprocess.run([*cmd, "--conf", "0.001", "--repeats", "2", "--verify", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    assert {"path", "format", "bundle"} <= r.keys()
    assert r["format"] == "onnx"
    assert Path(r["bundle"]).is_file()
    v = r["verify"]
    assert {"max_abs_diff", "detections_match", "map50_95", "latency_ms"} <= v.keys()
    assert {"eager", "exported"} <= v["map50_95"].keys()
    assert_verified_like_eager(v, nms=True)
    model = onnx.load(r["path"])
    assert model.opset_import[0].version == 12
    assert any(n.op_type == "NonMaxSuppression" for n in model.graph.node)
    assert shape(model, model.graph.input[0]) == [0, 3, 128, 128]
    assert shape(model, model.graph.output[0]) == [0, 300, 6]  # 0: an unnamed, free axis
    assert v["latency_ms"]["by_batch"]["8"]["exported"] > 0  # the batch axis is dynamic
    session = ort.InferenceSession(r["path"])
    assert session.run(None, {"images": np.zeros((3, 3, 128, 128), np.float32)})[0].shape == (3, 300, 6)


def test_onnx_fully_dynamic_fp16(trained_run):
    r = export(trained_run, dynamic=True, half=True)
    assert r["dynamic"] == "full"
    assert r["precision"] == "fp16"
    assert "converted to FP16" in r["fp16"]
    model = onnx.load(r["path"])
    assert shape(model, model.graph.input[0]) == ["batch", 3, "height", "width"]
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    v = r["verify"]
    assert v["max_abs_diff_normalized"] < 1e-2
    assert v["detections"]["eager"] > 0  # FP16: close, not bit-equal
    assert set(v["map50_95"]) >= {"eager", "exported"}
    assert v["latency_ms"]["by_batch"]["8"]["exported"] > 0
    out = ort.InferenceSession(r["path"]).run(None, {"images": np.zeros((2, 3, 96, 64), np.float32)})[0]
    assert out.shape == (2, 7, 12 * 8 + 6 * 4 + 3 * 2)
    assert out.dtype == np.float32  # any stride multiple; float32 in and out


def test_onnx_int8_calibrated_on_the_runs_images(trained_run):
    fp32 = Path(export(trained_run, verify=False, bundle=False)["path"])
    r = export(trained_run, int8=True)
    assert Path(r["path"]).name == "best-int8.onnx"
    assert not Path(r["path"]).with_name("best-int8-fp32.onnx").exists()
    assert r["quantization"]["calibration_images"] == 48  # the fixture set's train split
    ops = {n.op_type for n in onnx.load(r["path"]).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert r["size_mb"] < 0.5 * fp32.stat().st_size / 2**20
    v = r["verify"]
    # Measured on this fixture in 3 separate processes (training and calibration are seeded, so
    # all three gave the same): mAP50-95 0.3209 eager -> 0.3016 INT8 (loss 0.0193), normalised
    # raw difference 0.082. The bounds leave 2.5x room; the 0.01 loss promise is not met by
    # this tiny model: an INT8 guard that keeps sensitive nodes in float is issue 14's.
    loss = v["map50_95"]["eager"] - v["map50_95"]["exported"]
    assert loss < 0.05, v["map50_95"]
    assert v["map50_95"]["exported"] > 0.25, v["map50_95"]
    assert v["max_abs_diff_normalized"] < 0.2, v
    with zipfile.ZipFile(r["bundle"]) as zf:
        assert json.loads(zf.read("metadata.json"))["precision"] == "int8"


def test_torchscript_with_nms(trained_run):
    r = export(trained_run, format="torchscript", nms=True)
    assert Path(r["path"]).name == "best-nms.torchscript"
    assert_verified_like_eager(r["verify"], tol=1e-3, nms=True)
    with zipfile.ZipFile(r["bundle"]) as zf:
        assert "best-nms.torchscript" in zf.namelist()
        assert json.loads(zf.read("metadata.json"))["output"]["layout"] == "nms"


def test_bad_options_and_broken_exports_get_one_clear_line(trained_run, tmp_path):
    with pytest.raises(yolov11.UserError, match=r"--opset 7: onnx export of best.pt failed: .*opset>=9"):
        export(trained_run, opset=7)
    with pytest.raises(yolov11.UserError, match="--int8: INT8 is an ONNX precision"):
        export(trained_run, format="torchscript", int8=True)
    with pytest.raises(yolov11.UserError, match="--dynamic sideways: use batch"):
        export(trained_run, dynamic="sideways")
    ckpt = torch.load(trained_run["weights"], map_location="cpu", weights_only=False)
    ckpt["train_args"]["data"] = str(tmp_path / "moved-away" / "data.yaml")
    torch.save(ckpt, tmp_path / "orphan.pt")  # weights whose training set is gone: nothing to calibrate on
    with pytest.raises(yolov11.UserError, match="--int8: needs calibration images"):
        yolov11.export_model(tmp_path / "orphan.pt", int8=True, workspace=tmp_path / "ws")
    cmd = [sys.executable, "-m", "yolov11", "--workspace", str(trained_run["workspace"].root), "export", "--run", trained_run["run"], "--opset", "7"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: --opset 7: onnx export of best.pt failed")


def test_export_tab_reports_and_refuses_clearly(trained_run):
    from gradio_client import Client

    with serving(trained_run["workspace"]) as url:
        client = Client(url, verbose=False)
        with pytest.raises(Exception, match="--opset 7: onnx export of best.pt failed: AssertionError: ONNX export requires opset>=9"):
            client.predict(trained_run["run"], "onnx", True, False, "batch only", False, False, 7, True, api_name="/export_model")
        path, report, code, bundle, latency, checks = client.predict(trained_run["run"], "onnx", True, False, "batch only", False, True, 0, True, api_name="/export_model")
        assert Path(path).name == "best-dynbatch-nms.onnx"
        assert Path(bundle).name == "best-dynbatch-nms.bundle.zip"
        assert [row[0] for row in latency["data"]] == ["1", "8"]
        assert all(row[2] for row in latency["data"])
        assert "mAP50-95 on the validation split" in checks
        assert "--dynamic batch --nms" in code


def test_latency_uses_the_cpus_the_os_reports_where_there_is_no_affinity(monkeypatch):
    import os

    from yolov11.export.verify import usable_cpus

    assert usable_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS and Windows have none
    assert usable_cpus() == (os.cpu_count() or 1)
