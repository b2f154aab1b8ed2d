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
    m = v["map50_95"]
    assert m["eager"] > 0.1, m  # the fixture model finds things: a real comparison
    # eager is the one FP32 baseline (Evaluate's); the export's own change is against eager scored as the export is
    assert m["export_change"] == round(m["exported"] - m["eager_as_exported"], 5), m
    assert m["input_change"] == round(m["eager_as_exported"] - m["eager"], 5), m
    if nms:  # eager is scored with multi-label NMS, the graph keeps one class a box: a little lower, said so
        assert -0.08 < m["export_change"] < 1e-3, m
        assert "multi-label" in m["note"], m
    else:
        assert abs(m["export_change"]) < 1e-3, m


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
    assert lat["by_batch"]["8"]["note"].startswith("this export takes batch 1 only")  # a static export: said in words
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
    cmd = [sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "export", "--run", trained_run["run"], "--dynamic", "batch",
           "--nms", "--opset", "12"]
    out = subprocess.run([*cmd, "--conf", "0.001", "--repeats", "2", "--verify", "--json"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
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
    from yolov11.cli.commands import _export_summary
    from yolov11.export.quantize import MAX_ATTEMPTS, head_convs, int8_summary

    fp32 = Path(export(trained_run, verify=False, bundle=False)["path"])
    head = head_convs(onnx.load(str(fp32)))
    r = export(trained_run, int8=True)
    assert Path(r["path"]).name == "best-int8.onnx"
    assert not Path(r["path"]).with_name("best-int8-fp32.onnx").exists()
    assert not list(Path(r["path"]).parent.glob("int8-guard-*"))  # the attempts' scratch is gone
    q, v = r["quantization"], r["verify"]
    assert q["calibration_images"] == 48  # the fixture set's train split
    ops = {n.op_type for n in onnx.load(r["path"]).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert r["size_mb"] < (0.5 if q["kept_float"] in ([], head) else 1.0) * fp32.stat().st_size / 2**20
    # The guard: FP32 and INT8 scored on the val split like verification, the loss bound held.
    assert q["tolerance"] == 0.01
    assert q["map50_95"]["fp32"] == v["map50_95"]["eager"], (q, v)  # one FP32 baseline, Evaluate's
    assert q["map50_95"]["fp32_as_exported"] == v["map50_95"]["eager_as_exported"], (q, v)  # the guard's reference: eager on the same input
    assert q["map50_95"]["int8"] == v["map50_95"]["exported"], (q, v)  # the file kept is the file verified
    assert q["loss"] == round(q["map50_95"]["fp32_as_exported"] - q["map50_95"]["int8"], 5) == min(a["loss"] for a in q["attempts"])
    assert 1 <= len(q["attempts"]) <= MAX_ATTEMPTS
    assert q["attempts"][0]["kept_float"] == 0  # all convolutions first, then the head in float, ...
    assert [a["kept_float"] for a in q["attempts"][1:2]] in ([], [len(head)])
    if q["met"]:
        assert q["loss"] <= q["tolerance"], q
        assert -v["map50_95"]["export_change"] <= q["tolerance"], v["map50_95"]
        assert "message" not in q
    else:
        assert q["loss"] > q["tolerance"], q
        assert len(q["attempts"]) == MAX_ATTEMPTS
        assert "could not meet" in q["message"], q
        assert "without --int8" in q["message"], q
    # Measured in five separate pytest processes on this 2-core machine, the same every time
    # (training, calibration and scoring are deterministic on one machine): FP32 0.3209 (on the
    # export's square input: "fp32_as_exported", the guard's reference; Evaluate's 0.34 is "fp32"); all 88
    # convolutions INT8 0.3016 (loss 0.0193, over the tolerance); the 25 head convolutions in
    # float 0.3233 (loss -0.0024, met at the second attempt); INT8 0.66-0.86x FP32's speed. The
    # fixture itself is not the same model everywhere: Ultralytics trains on the CPU with
    # min(8, cores - 1) torch threads, and the same seed trained with 2 threads gave FP32 0.3743,
    # all-INT8 0.3549 (loss 0.0194), head in float 0.3756 (met). The loss bound is the guard's
    # promise and is asserted on whichever model was trained. The raw difference is not bounded:
    # it is a max over every anchor, junk ones included, and one INT8 step in a junk anchor's DFL
    # bins moves its box side by up to 15 strides (480 px at stride 32): 0.038-0.082 of the input
    # size here, 0.35 once, 2.23 on a CI machine. It only has to show that the file is quantized.
    assert q["map50_95"]["fp32"] > 0.25, q
    assert q["map50_95"]["int8"] > 0.25, q
    assert q["attempts"][0]["loss"] > -0.02, q
    assert v["max_abs_diff_normalized"] > 1e-3, v  # not the FP32 file under another name (FP32 differs by ~1e-5)
    # Speed next to accuracy: INT8 vs FP32 in onnxruntime on this CPU (at 128 px and 2 threads
    # INT8 is often no faster: the report shows it, and the guard line says it).
    lat = q["latency_ms"]
    assert lat["fp32"] > 0
    assert lat["int8"] > 0
    assert lat["speedup"] == round(lat["fp32"] / lat["int8"], 2)
    line = int8_summary(q)
    change = f"a loss of {q['loss']:.4f}" if q["loss"] > 0 else f"no loss (INT8 is {-q['loss']:.4f} higher)"
    assert f"INT8 {q['map50_95']['int8']:.4f} against FP32 {q['map50_95']['fp32_as_exported']:.4f}, {change}" in line
    assert "the tolerance accepts a loss of at most 0.01" in line
    assert ("INT8 guard met" if q["met"] else "INT8 guard NOT met") in line
    assert f"{len(q['kept_float'])} of 88 convolutions kept in float" in line or "All 88 convolutions quantized" in line
    assert "ms vs FP32" in line
    assert line in _export_summary(r)  # the CLI prints it
    with zipfile.ZipFile(r["bundle"]) as zf:
        assert json.loads(zf.read("metadata.json"))["precision"] == "int8"
    # Issue 21 item 19, as for OpenVINO INT8 (test_export_openvino.py): the report explains its numbers in words
    checks = "\n".join(r["checks"])
    assert "the number Evaluate shows for these weights" in checks
    assert f"The export's own change: {v['map50_95']['export_change']:+.4f}" in checks
    assert "a max over every anchor (336 per image, 8 image(s))" in checks  # the raw max is over junk anchors too: said
    if not v["detections_match"]:
        assert "Expected for INT8" in checks, checks
    assert line in checks
    assert v["latency_ms"]["by_batch"]["8"]["note"].startswith("this export takes batch 1 only")  # words, not onnxruntime's message
    assert r["simplify"] is True and "not_applied" not in r  # onnxslim ran on the FP32 graph it quantized


def test_int8_guard_that_cannot_be_met_says_so_and_offers_fp32(trained_run, tmp_path):
    """An unmeetable tolerance drives every attempt: the head, then the most sensitive other
    convolutions kept in float, the best file kept and the report saying INT8 failed."""
    from yolov11.export.exporter import _split_images
    from yolov11.export.quantize import MAX_ATTEMPTS, head_convs, int8_summary, quantize_int8

    fp32 = Path(export(trained_run, verify=False, bundle=False)["path"])
    model = onnx.load(str(fp32))
    head = head_convs(model)
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    assert len(head) == 25  # YOLO11n's Detect: cv2, cv3, dfl
    assert all(name.startswith("/model.23/") for name in head)
    assert "/model.23/dfl/conv/Conv" in head
    dest = tmp_path / "best-int8.onnx"
    images = _split_images(trained_run["data_yaml"], "train")
    q = quantize_int8(fp32, dest, images, (128, 128), 8, data_yaml=trained_run["data_yaml"], tolerance=-1.0)
    assert q["calibration_images"] == 8
    assert q["met"] is False
    assert "could not meet the mAP50-95 tolerance -1" in q["message"]
    assert "without --int8" in q["message"]
    assert "INT8 guard NOT met" in int8_summary(q)
    assert q["message"] in int8_summary(q)
    kept = [a["kept_float"] for a in q["attempts"]]
    assert kept == [0, 25, 25 + 8, 25 + 16]  # then 1/8 and 1/4 of the 63 others, most sensitive first
    assert len(kept) == MAX_ATTEMPTS
    assert q["loss"] == min(a["loss"] for a in q["attempts"])
    best = q["attempts"][[a["loss"] for a in q["attempts"]].index(q["loss"])]
    assert len(q["kept_float"]) == best["kept_float"]
    assert q["quantized_nodes"] == best["quantized"] == len(convs) - best["kept_float"]
    assert set(head) <= set(q["kept_float"]) or q["kept_float"] == []
    assert set(q["kept_float"]) <= set(convs)
    quantized = {n.name for n in onnx.load(str(dest)).graph.node if n.op_type == "Conv" and any("DequantizeLinear" in i for i in n.input)}
    assert quantized == set(convs) - set(q["kept_float"])  # the file kept is the best attempt's
    assert not list(tmp_path.glob("int8-guard-*"))


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
    with pytest.raises(yolov11.UserError, match=r"--int8: INT8 is an ONNX \(onnxruntime static quantization\) "
                                                r"or OpenVINO \(NNCF\) precision; not with --format torchscript"):
        export(trained_run, format="torchscript", int8=True)
    with pytest.raises(yolov11.UserError, match="--dynamic sideways: use batch"):
        export(trained_run, dynamic="sideways")
    ckpt = torch.load(trained_run["weights"], map_location="cpu", weights_only=False)
    ckpt["train_args"]["data"] = str(tmp_path / "moved-away" / "data.yaml")
    torch.save(ckpt, tmp_path / "orphan.pt")  # weights whose training set is gone: nothing to calibrate on
    with pytest.raises(yolov11.UserError, match="--int8: needs calibration images"):
        yolov11.export_model(tmp_path / "orphan.pt", int8=True, workspace=tmp_path / "ws")
    cmd = [sys.executable, "-m", "yolov11", "--workspace", str(trained_run["workspace"].root), "export", "--run", trained_run["run"],
           "--opset", "7"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: --opset 7: onnx export of best.pt failed")


def test_export_tab_reports_and_refuses_clearly(trained_run):
    from gradio_client import Client

    with serving(trained_run["workspace"]) as url:
        client = Client(url, verbose=False)
        with pytest.raises(Exception, match="--opset 7: onnx export of best.pt failed: AssertionError: ONNX export requires opset>=9"):
            client.predict(trained_run["run"], "onnx", True, False, "batch only", False, False, 7, True, api_name="/export_model")
        path, report, code, bundle, latency, checks = client.predict(trained_run["run"], "onnx", True, False, "batch only", False, True,
                                                                     0, True, api_name="/export_model")
        assert Path(path).name == "best-dynbatch-nms.onnx"
        assert Path(bundle).name == "best-dynbatch-nms.bundle.zip"
        assert [row[0] for row in latency["data"]] == ["1", "8"]
        assert all(row[2] for row in latency["data"])
        assert "mAP50-95 on the val split" in checks and "the number Evaluate shows for these weights" in checks
        assert "--dynamic batch --nms" in code


def test_latency_uses_the_cpus_the_os_reports_where_there_is_no_affinity(monkeypatch):
    import os

    from yolov11.machine import usable_cpus

    assert usable_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS and Windows have none
    assert usable_cpus() == (os.cpu_count() or 1)
