"""NCNN, the format added through the format registry alone (yolov11/export/formats.py and its
runtime in deploy/infer.py): exported by Ultralytics (PNNX), verified against eager PyTorch like
ONNX, loaded by predict and publish, and run by the bundle's infer.py with only ncnn, numpy and
Pillow installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_export_bundle import CONF, assert_same, fresh_venv, run_bundle, val_images

import yolov11

from helpers import ROOT


@pytest.fixture(scope="module")
def ncnn_export(trained_run) -> dict:
    return yolov11.export_model(trained_run["weights"], "ncnn", data=trained_run["dataset"], workspace=trained_run["workspace"], repeats=3)


def test_ncnn_export_is_verified_against_eager(ncnn_export):
    r = ncnn_export
    folder = Path(r["path"])
    assert folder.name == "best_ncnn_model" and folder.is_dir()
    assert {p.suffix for p in folder.iterdir()} >= {".param", ".bin", ".yaml"}
    v = r["verify"]
    assert v["compared"] == "raw outputs"
    assert v["max_abs_diff_normalized"] < 1e-4  # float rounding: NCNN computes what eager does (measured 1e-6)
    assert v["detections"]["eager"] > 0 and v["detections_match"], v["detections"]
    m = v["map50_95"]
    assert m["eager_as_exported"] > 0.1, m  # the trained fixture finds things, so the comparison means something
    assert abs(m["exported"] - m["eager_as_exported"]) <= 0.005, m
    latency = v["latency_ms"]
    assert latency["exported_runtime"] == "ncnn CPU" and latency["by_batch"]["1"]["exported"] > 0
    assert r["precision"] == "fp32" and "simplify" in r["not_applied"]  # onnxslim is ONNX's only


def test_ncnn_refuses_what_it_cannot_do(trained_run):
    ws, weights = trained_run["workspace"], trained_run["weights"]
    for options, message in (({"dynamic": "batch"}, "--dynamic batch: NCNN exports take a fixed input"),
                             ({"nms": True}, "--nms: NCNN exports keep the raw output"),
                             ({"int8": True, "data": trained_run["dataset"]}, "--int8: INT8 is an ONNX"),
                             ({"half": True}, "--half: NCNN exports are FP32 here")):
        with pytest.raises(yolov11.UserError, match=message):
            yolov11.export_model(weights, "ncnn", workspace=ws, verify=False, bundle=False, **options)
    with pytest.raises(yolov11.UserError, match="--format tflite: choose one of onnx, torchscript, openvino, ncnn"):
        yolov11.export_model(weights, "tflite", workspace=ws)


def test_predict_and_publish_load_the_ncnn_folder(trained_run, ncnn_export, tmp_path):
    images = val_images(trained_run)[:3]
    ws = trained_run["workspace"]
    from_folder = yolov11.predict(ncnn_export["path"], images, conf=CONF, workspace=ws)["images"]
    from_param = yolov11.predict(Path(ncnn_export["path"]) / "model.ncnn.param", images, conf=CONF, workspace=ws)["images"]
    from_pt = yolov11.predict(trained_run["weights"], images, conf=CONF, imgsz=128, workspace=ws)["images"]
    for a, b, c in zip(from_folder, from_param, from_pt):
        assert_same(a["detections"], b["detections"])
        assert_same(a["detections"], c["detections"])
    card = yolov11.publish(weights=ncnn_export["path"], name="ncnn-hats", workspace=tmp_path / "ws")
    assert card["format"] == "ncnn" and Path(card["weights"]).name == "model_ncnn_model"
    with pytest.raises(yolov11.UserError, match="not an NCNN folder"):
        empty = tmp_path / "empty_ncnn_model"
        empty.mkdir()
        yolov11.predict(empty, images, workspace=ws)
    cli = subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws.root), "predict", "--weights", ncnn_export["path"],
                          "--source", str(images[0]), "--conf", str(CONF), "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert_same(json.loads(cli.stdout)["images"][0]["detections"], from_folder[0]["detections"])


def test_ncnn_bundle_runs_with_only_ncnn_numpy_pillow(trained_run, ncnn_export, tmp_path):
    images = val_images(trained_run)[:4]
    python = fresh_venv(tmp_path / "venv", runtime="ncnn")
    bundle, standalone = run_bundle(ncnn_export["bundle"], python, images, tmp_path, ("torch", "ultralytics", "onnxruntime", "yolov11"))
    meta = json.loads((bundle / "metadata.json").read_text())
    assert (meta["format"], meta["model"], meta["input"]["name"], meta["output"]["name"]) == ("ncnn", "best_ncnn_model", "in0", "out0")
    app = yolov11.predict(ncnn_export["path"], images, conf=CONF, workspace=trained_run["workspace"])["images"]
    for mine, theirs in zip(standalone, app):
        assert_same(mine["detections"], theirs["detections"])
