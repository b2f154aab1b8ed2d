"""OpenVINO export on the shared small trained model (128 px): FP32 and FP16 IR verified like the
ONNX exports, INT8 by NNCF's accuracy control within the tolerance (or refused, never shipped
silently), loadable by predict and /demo's publish, and its bundle's infer.py running in a fresh
virtual environment that holds only openvino, numpy and Pillow.

INT8 on this fixture is deterministic: five separate exports in separate processes (four by hand,
on the same seeded recipe, plus the test runs) gave the same numbers each time: NNCF's own
mAP50-95 FP32 0.3212 -> INT8 0.3291 on the 16 val images (no layer needed putting back), the
validator's eager 0.3209 -> INT8 0.3291, 3.14 MB against FP32's 10.15: a gain, no loss, spread 0.

Issue 21 item 19, the report says one consistent thing: one FP32 baseline (Evaluate's number; a
model trained like the fixture on this machine: Evaluate 0.3435, eager on the IR's fixed 128 px
square 0.3237, INT8 0.3302, the raw max difference 33.9 px on an anchor eager scores 0.0007,
detections matched at IoU 0.99: 2 of 11, at 0.5: 9 of 11), the alarming numbers explained, no
runtime message in the latency note, options as applied. One INT8 export (the module's `int8`)
serves all of these.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_export import FAST, assert_verified_like_eager
from test_export_bundle import assert_same, run_bundle, val_images

import yolov11
from pages.common import AppContext, same_call
from pages.export import _checks, latency_text, snippet_options
from yolov11.export.formats import FORMATS

from helpers import GUARD_DIR, ROOT

SUFFIX = FORMATS["openvino"].suffix

CONF = 0.001


def cli(ws: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(GUARD_DIR), str(ROOT)]),
           "NETGUARD_LOG": str(ws.parent / "netguard-openvino.log")}
    return subprocess.run([sys.executable, "-m", "yolov11", "--workspace", str(ws), *args, "--json"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def fp32(trained_run) -> dict:
    """The FP32 IR exported and verified through the CLI, in a subprocess with the network guard."""
    ws = trained_run["workspace"].root
    out = cli(ws, "export", "--run", trained_run["run"], "--format", "openvino", "--verify", "--conf", str(CONF), "--repeats", "2")
    assert out.returncode == 0, out.stderr[-2000:]
    log = ws.parent / "netguard-openvino.log"
    assert not log.exists() or not log.read_text(), log.read_text()  # no telemetry, no check ever left the machine
    return json.loads(out.stdout)


def test_openvino_fp32_ir_verifies_like_eager_with_bundle(trained_run, fp32):
    path = Path(fp32["path"])
    assert path == trained_run["workspace"].exports_dir / trained_run["run"] / f"best{SUFFIX}"
    assert sorted(p.name for p in path.iterdir()) == ["best.bin", "best.xml", "metadata.yaml"]
    assert fp32["format"] == "openvino"
    assert fp32["precision"] == "fp32"
    v = fp32["verify"]
    # OpenVINO's CPU default is bf16 on CPUs that have it (this one does): left so, Ultralytics'
    # validator scored the IR 0.0008 off eager; compat.export.openvino_at_f32 makes it f32, and equal.
    assert_verified_like_eager(v)
    assert v["map50_95"]["eager_as_exported"] == v["map50_95"]["exported"], v["map50_95"]  # on the same input: equal
    assert v["output_shape"] == [1, 7, 336]
    assert v["latency_ms"]["exported_runtime"] == "openvino CPU"
    assert v["latency_ms"]["by_batch"]["1"]["exported"] > 0
    assert v["latency_ms"]["by_batch"]["8"]["exported"] is None  # static: batch 1 only, said in the note
    with zipfile.ZipFile(fp32["bundle"]) as zf:
        names = sorted(zf.namelist())
        meta = json.loads(zf.read("metadata.json"))
    assert names == ["README.md", f"best{SUFFIX}/best.bin", f"best{SUFFIX}/best.xml", f"best{SUFFIX}/metadata.yaml", "infer.py",
                     "metadata.json", "verification.json"]
    assert meta["model"] == f"best{SUFFIX}"
    assert meta["format"] == "openvino"
    assert meta["output"]["shape"] == [1, 7, 336]


def test_openvino_fp16_is_close_and_smaller(trained_run, fp32):
    r = yolov11.export_model(run=trained_run["run"], format="openvino", half=True, workspace=trained_run["workspace"], bundle=False, **FAST)
    assert Path(r["path"]).name == f"best-fp16{SUFFIX}"
    assert r["size_mb"] < 0.6 * fp32["size_mb"]
    v = r["verify"]
    assert v["detections_match"], v["detections"]
    assert v["max_abs_diff_normalized"] < 5e-3, v
    assert abs(v["map50_95"]["export_change"]) < 5e-3, v["map50_95"]


@pytest.fixture(scope="module")
def int8(trained_run) -> subprocess.CompletedProcess:
    """The OpenVINO INT8 export, through the CLI as the issue ran it (the default conf 0.25 of the
    detection check, as the Export tab uses): one NNCF run shared by the tests of its report."""
    ws, run = trained_run["workspace"].root, trained_run["run"]
    return cli(ws, "export", "--run", run, "--format", "openvino", "--int8", "--verify", "--repeats", "2")


def test_openvino_int8_keeps_the_loss_within_tolerance_or_refuses(int8):
    out = int8
    if out.returncode == 2:  # a refusal is explicit: one error line naming the tolerance and the FP32 offered
        assert "could not stay within" in out.stderr, out.stderr
        assert "FP32 is offered" in out.stderr, out.stderr
        return
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout)
    assert Path(r["path"]).name == f"best-int8{SUFFIX}"
    assert r["precision"] == "int8"
    assert not (Path(r["path"]).parent / f"best-int8-fp32{SUFFIX}").exists()  # the FP32 it started from is gone
    q = r["quantization"]
    assert q["method"].startswith("NNCF quantize_with_accuracy_control")
    assert q["met"], q
    assert q["loss"] == q["map50_95"]["loss"], q
    assert q["map50_95"]["loss"] <= q["tolerance"] == 0.01, q
    assert q["fake_quantize_ops"] > 50, q  # really INT8
    assert q["float_head_ops"] > 0, q  # and the head's decode in float
    m = r["verify"]["map50_95"]
    assert -m["export_change"] <= 0.01, m  # the guard's numbers are the verification's
    assert m["eager"] > 0.1, m
    assert r["size_mb"] < 0.4 * 10.2  # INT8 weights: about a third of the FP32 IR


def _report(int8) -> dict:
    assert int8.returncode == 0, int8.stderr[-2000:]  # refused on this fixture? its report is what is tested here
    return json.loads(int8.stdout)


def test_openvino_int8_report_has_one_fp32_baseline_evaluates(trained_run, int8):
    """The verification, the guard's report and the tab show one FP32 mAP50-95: the number the
    Evaluate tab computes for the same weights and split (its call, its defaults)."""
    r = _report(int8)
    evaluated = yolov11.evaluate(run=trained_run["run"], workspace=trained_run["workspace"])["metrics"]["mAP50-95"]
    v, q = r["verify"]["map50_95"], r["quantization"]["map50_95"]
    assert abs(v["eager"] - evaluated) < 1e-5, (v, evaluated)
    assert q["fp32"] == v["eager"], (q, v)
    # the other eager number is the same model on the IR's fixed input, named so, and the guard's reference
    assert q["fp32_as_exported"] == v["eager_as_exported"], (q, v)
    assert q["int8"] == v["exported"] and q["loss"] == round(v["eager_as_exported"] - v["exported"], 5), (q, v)
    assert "fp32" not in r["quantization"].get("search", {}), r["quantization"]  # NNCF's own scoring adds no third number
    checks = _checks(r)
    assert f"FP32 {evaluated:.4f}, the number Evaluate shows for these weights" in checks, checks
    if v["input_change"]:  # the square input's share of the change is said, with eager's score on it
        assert f"Of that, {v['input_change']:+.4f} is not the export's doing" in checks, checks
        assert f"eager PyTorch scored the exported way gets {v['eager_as_exported']:.4f}" in checks, checks
    assert f"The export's own change: {v['export_change']:+.4f}" in checks, checks


def test_openvino_int8_report_explains_its_alarming_numbers(int8):
    r = _report(int8)
    v, checks = r["verify"], _checks(r)
    k = v["kept_anchors"]
    # a raw max over every anchor: said so, with the difference on the anchors eager keeps beside it
    assert v["max_abs_diff_normalized"] > 1e-3, v  # INT8: visibly different raw numbers (FP32 exports show ~1e-5)
    assert "a max over every anchor (336 per image, 8 image(s))" in checks, checks
    if k["largest_diff_at_score"] < k["conf"]:
        assert "a box no one keeps" in checks, checks
    if k["anchors"]:
        assert f"boxes differ by at most {k['max_box_diff_px']:.2f} px and scores by at most {k['max_score_diff']:.3f}" in checks, checks
        assert k["max_box_diff_px"] < v["max_abs_diff"], k  # the junk anchors hold the largest difference
    d = v["detections"]
    assert d["same_object"] >= d["matched"], d
    if not v["detections_match"]:
        assert "Expected for INT8" in checks and f"{d['same_object']} of {d['eager']} eager detections" in checks, checks
    assert "INT8 guard met, measured on the whole val split (16 images), Ultralytics' validator at conf 0.001, IoU 0.7" in checks, checks
    assert "the tolerance accepts a loss of at most 0.01" in checks, checks
    assert r["checks"] == [line.removeprefix("- ") for line in checks.splitlines()[1:]]  # the JSON report says the same


def test_openvino_int8_latency_note_is_a_sentence_not_the_runtime_message(int8):
    r = _report(int8)
    row = r["verify"]["latency_ms"]["by_batch"]["8"]
    assert row["exported"] is None  # the static IR refused a batch of 8: the failing case, provoked
    assert row["note"] == "this export takes batch 1 only (a static export fixes the batch size; export with dynamic shapes to run batches)"
    text = latency_text(r["verify"])
    assert text == f"- Batch 8: no exported number: {row['note']}."
    for raw in ("RuntimeError", "Exception", "infer_request", ".cpp"):
        assert raw not in json.dumps(r) and raw not in text, raw
    assert "best-int8_openvino_model refused a batch of 8: RuntimeError" in int8.stderr  # the detail: in the log only


def test_openvino_int8_options_are_those_applied_and_the_snippet_says_the_same(trained_run, int8):
    r = _report(int8)
    assert r["simplify"] is False  # onnxslim never ran on an IR ...
    assert "onnxslim simplifies ONNX graphs only" in r["not_applied"]["simplify"]  # ... and the report says why
    assert "simplify: not applied" in _checks(r)
    options = {"format": "openvino", "run": trained_run["run"], "dynamic": False, "half": False, "int8": True, "nms": False, "opset": None,
               "simplify": True}
    shown = snippet_options(options, r)  # what the tab's snippet shows for the tab's default form (Simplify ticked)
    assert "simplify" not in shown
    assert all(r[k] == value for k, value in shown.items() if k != "run"), (shown, r)
    ctx = AppContext(workspace=trained_run["workspace"], jobs=None, blocks=None)
    code = same_call(ctx, "export_model", "exported", {**shown, "verify": True}, "export", {**shown, "verify": True})
    assert "simplify" not in code
    recorded = next(e for e in trained_run["workspace"].exports(trained_run["run"]) if e["path"] == r["path"])
    assert recorded["options"]["simplify"] is False  # the notebook's export cell repeats what was done


def test_openvino_int8_over_the_tolerance_is_refused_and_fp32_kept(trained_run):
    """A tolerance no model can meet (a loss of at most -1: a gain of a whole mAP point... of 1.0)."""
    from yolov11.export import openvino

    ws = trained_run["workspace"]
    before = openvino.MAX_ITERATIONS
    openvino.MAX_ITERATIONS = 1  # one restoring step is enough to show the refusal; the default is kept for real exports
    try:
        with pytest.raises(yolov11.UserError, match=r"--int8-tolerance -1.0: INT8 could not stay within it.*FP32 is offered instead"):
            yolov11.export_model(run=trained_run["run"], format="openvino", int8=True, int8_tolerance=-1.0, dynamic="batch", verify=False,
                                 workspace=ws)
    finally:
        openvino.MAX_ITERATIONS = before
    folder = ws.exports_dir / trained_run["run"]
    assert not (folder / f"best-dynbatch-int8{SUFFIX}").exists()
    assert (folder / f"best-dynbatch{SUFFIX}" / "best.xml").is_file()  # the FP32 offered instead


def test_predict_and_publish_take_the_openvino_export(trained_run, fp32):
    ws = trained_run["workspace"]
    images = val_images(trained_run)[:4]
    ir = yolov11.predict(fp32["path"], images, conf=CONF, workspace=ws)["images"]
    # the first val image is square: the .pt's rectangular letterbox is then the IR's 128 x 128 too
    pt = yolov11.predict(trained_run["weights"], images[:1], conf=CONF, workspace=ws)["images"]
    assert_same(ir[0]["detections"], pt[0]["detections"])
    card = yolov11.publish(weights=Path(fp32["path"]) / "best.xml", name="ov-demo", workspace=ws)
    assert card["format"] == "openvino"
    assert Path(card["weights"]).name == f"model{SUFFIX}"
    shown = yolov11.published(ws)
    assert shown["name"] == "ov-demo"
    assert shown["classes"] == ["helmet", "head", "vest"]
    demo = yolov11.predict(shown["weights"], images[:1], conf=CONF, workspace=ws)["images"][0]
    assert_same(demo["detections"], ir[0]["detections"])


@pytest.fixture(scope="session")
def openvino_venv(tmp_path_factory) -> Path:
    """A venv without system site-packages holding only openvino, numpy and Pillow (and
    openvino's one dependency, openvino-telemetry): each distribution's files, as its RECORD
    lists them, linked from this venv into the new one's site-packages. Nothing is downloaded:
    the same packages a user gets from ``pip install openvino numpy pillow``, and nothing else."""
    import sysconfig
    from importlib.metadata import distribution

    dest = tmp_path_factory.mktemp("openvino-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    python = dest / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True,
                             check=True).stdout.strip()
    ours = Path(sysconfig.get_paths()["purelib"])
    for name in ("openvino", "openvino-telemetry", "numpy", "pillow"):
        tops = {Path(str(f)).parts[0] for f in distribution(name).files or [] if not str(f).startswith("..")}
        for top in tops:
            link = Path(purelib) / top
            if not link.exists() and (ours / top).exists():
                link.symlink_to(ours / top)
    return python


def test_bundle_infer_runs_with_only_openvino_numpy_pillow(trained_run, fp32, openvino_venv, tmp_path):
    images = val_images(trained_run)[:4]
    _, standalone = run_bundle(fp32["bundle"], openvino_venv, images, tmp_path, ("torch", "ultralytics", "cv2", "yolov11", "onnxruntime"))
    app = yolov11.predict(fp32["path"], images, conf=CONF, workspace=trained_run["workspace"])["images"]
    for mine, theirs in zip(standalone, app):
        assert_same(mine["detections"], theirs["detections"])
