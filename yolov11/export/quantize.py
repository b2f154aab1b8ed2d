"""INT8 ONNX by onnxruntime's static quantization, calibrated on the run's own images, behind a
guard that measures what INT8 costs.

Calibration images go through the same letterbox the deployed model will see (the bundle's
infer.py), so the activation ranges measured here are the ones met in the field. Only the
convolutions are quantized: the head's decode mixes box pixels (0..imgsz) and class scores
(0..1), and one INT8 scale across both rounds every score to zero (Ultralytics excludes the
same nodes for the same reason). Weights are quantized per output channel, activations per
tensor, in the QDQ format that onnxruntime fuses into integer kernels on x86 and ARM.

The guard (when the dataset is known): mAP50-95 of the INT8 file on the val split against FP32 on
the same input (Ultralytics' validator as verification scores them: accuracy.py, whose FP32
baseline, Evaluate's number, the report shows as "fp32"); while the loss is above the tolerance,
keep more convolutions in float and quantize again: first the detection head (every Conv of the
Detect module, the graph's last ``/model.N/``), then the non-head convolutions most sensitive
on their own (the relative output error of each, with only its input and weights quantized, on
a few calibration images), at most ``MAX_ATTEMPTS`` files in all. The best file is kept; when
none meets the tolerance the report says so and that FP32 (the same export without --int8) is
the accurate choice. Public reports show static INT8 YOLO losing most of its accuracy or
running no faster, so the report gives both: the mAP of each attempt and FP32-vs-INT8 latency
in onnxruntime on this machine.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from yolov11.export import accuracy
from yolov11.export.deploy.infer import letterbox, load_rgb, to_input

CALIBRATION_IMAGES = 64  # enough for stable min/max ranges; each is one forward pass of the FP32 model
MAX_ATTEMPTS = 4  # INT8 files quantized and scored: all convs, head in float, then two sensitivity steps
SENSITIVITY_IMAGES = 4  # calibration images the per-node sensitivity is measured on
SENSITIVE_STEPS = (1 / 8, 1 / 4)  # fractions of the non-head convs kept in float at the later attempts
LATENCY_CALLS = 10  # timed onnxruntime calls per FP32 / INT8 latency number (median)
METHOD = "onnxruntime quantize_static (QDQ, per-channel s8 weights, u8 activations, MinMax)"


class ImageCalibration:
    """onnxruntime CalibrationDataReader over letterboxed images, one (1, 3, h, w) batch each."""

    def __init__(self, images: list[Path], imgsz: tuple[int, int], input_name: str = "images"):
        self.images, self.imgsz, self.input_name = images, imgsz, input_name
        self.rewind()

    def get_next(self) -> dict | None:
        path = next(self._it, None)
        return None if path is None else {self.input_name: to_input([letterbox(load_rgb(path), self.imgsz)[0]])}

    def rewind(self) -> None:
        self._it = iter(self.images)


def head_convs(model) -> list[str]:
    """The Conv nodes of the Detect module: Ultralytics names each node after its module,
    ``/model.<index>/...``, and the Detect module is the model's last index. [] for a graph
    not named that way."""
    index = {n.name: int(m.group(1)) for n in model.graph.node if (m := re.match(r"/model\.(\d+)/", n.name))}
    if not index:
        return []
    last = max(index.values())
    return [n.name for n in model.graph.node if n.op_type == "Conv" and index.get(n.name) == last]


def _quantize(fp32: Path, dest: Path, model, picked: list[Path], imgsz: tuple[int, int], float_convs: set[str]) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    exclude = [n.name for n in model.graph.node if n.op_type != "Conv" or n.name in float_convs]
    quantize_static(
        str(fp32),
        str(dest),
        ImageCalibration(picked, imgsz, model.graph.input[0].name),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,  # u8 activations x s8 weights: the fast VNNI / dot-product kernels
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude,
        calibrate_method=CalibrationMethod.MinMax,
    )
    quantized = onnx.load(str(dest))
    # A tensor that feeds a quantized conv and one kept in float gets one Q/DQ pair that both read:
    # the float one reads the tensor itself again, so it is all float.
    producer = {out: n for n in quantized.graph.node for out in n.output}
    for node in quantized.graph.node:
        dq = producer.get(node.input[0]) if node.op_type == "Conv" and node.name in float_convs else None
        q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q is not None and q.op_type == "QuantizeLinear":
            node.input[0] = q.input[0]
    for _ in range(2):  # a pair no quantized conv reads any more: DequantizeLinear, then its QuantizeLinear
        read = {i for n in quantized.graph.node for i in n.input} | {o.name for o in quantized.graph.output}
        unread = [n for n in quantized.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.output[0] not in read]
        for node in unread:
            quantized.graph.node.remove(node)
    read = {i for n in quantized.graph.node for i in n.input}
    for init in [t for t in quantized.graph.initializer if t.name not in read]:
        quantized.graph.initializer.remove(init)
    # Keep Ultralytics' metadata (names, stride, imgsz) so YOLO("x_int8.onnx") still reads it.
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(model.metadata_props)
    onnx.save(quantized, str(dest))


def _dequantized(qdq, tensor: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """(stored values, scale, zero point, axis) of the DequantizeLinear that produces ``tensor``
    in the QDQ graph ``qdq``, all from initializers (values: None for an activation)."""
    from onnx import numpy_helper

    inits = {t.name: t for t in qdq.graph.initializer}
    node = next((n for n in qdq.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == tensor), None)
    if node is None or node.input[1] not in inits:
        return None
    values = numpy_helper.to_array(inits[node.input[0]]) if node.input[0] in inits else None
    zero = numpy_helper.to_array(inits[node.input[2]]) if len(node.input) > 2 and node.input[2] in inits else np.zeros((), np.int32)
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    return values, numpy_helper.to_array(inits[node.input[1]]), zero, axis


def conv_sensitivity(fp32_model, qdq_path: Path, inputs: list[np.ndarray], convs: list[str]) -> dict[str, float]:
    """Per Conv node of ``convs``: its output's relative squared error (noise / signal) when only
    its own input and weights are quantized as in the all-convs QDQ file ``qdq_path``, on the FP32
    activations of ``inputs``. Cheap (one FP32 pass, one float conv per node); a node the
    quantizer skipped gets 0."""
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import numpy_helper

    qdq = onnx.load(str(qdq_path))
    qconv = {n.name: n for n in qdq.graph.node if n.op_type == "Conv"}
    fconv = {n.name: n for n in fp32_model.graph.node if n.op_type == "Conv" and n.name in convs}
    inits = {t.name: numpy_helper.to_array(t) for t in fp32_model.graph.initializer}
    probe = onnx.ModelProto()
    probe.CopyFrom(fp32_model)
    known = {o.name for o in probe.graph.output}
    for tensor in dict.fromkeys(n.input[0] for n in fconv.values()):
        if tensor not in known:
            probe.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one thread: the same sums, so the same ranking, on any machine load
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    feeds = [dict(zip(names, session.run(None, {fp32_model.graph.input[0].name: x}))) for x in inputs]
    errors = {}
    for name, node in fconv.items():
        q = qconv.get(name)
        act = _dequantized(qdq, q.input[0]) if q is not None else None
        wq = _dequantized(qdq, q.input[1]) if q is not None else None
        if act is None or wq is None or wq[0] is None or node.input[1] not in inits:
            errors[name] = 0.0
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        w = torch.from_numpy(inits[node.input[1]].astype(np.float32))
        shape = [-1 if i == wq[3] else 1 for i in range(w.ndim)]
        w_q = torch.from_numpy(
            ((wq[0].astype(np.float32) - wq[2].astype(np.float32).reshape(shape)) * wq[1].astype(np.float32).reshape(shape))
        )
        b = torch.from_numpy(inits[node.input[2]].astype(np.float32)) if len(node.input) > 2 and node.input[2] in inits else None
        pads = attrs.get("pads", [0, 0, 0, 0])
        conv = dict(
            stride=attrs.get("strides", [1, 1]), padding=pads[:2], dilation=attrs.get("dilations", [1, 1]), groups=attrs.get("group", 1)
        )
        noise = signal = 0.0
        s, z = float(act[1]), float(act[2])
        for feed in feeds:
            x = torch.from_numpy(feed[node.input[0]])
            x_q = (torch.clamp(torch.round(x / s) + z, 0, 255) - z) * s  # u8 activations, as quantized
            with torch.inference_mode():
                y = torch.nn.functional.conv2d(x, w, b, **conv)
                y_q = torch.nn.functional.conv2d(x_q, w_q, b, **conv)
            noise += float(((y_q - y) ** 2).sum())
            signal += float((y**2).sum())
        errors[name] = noise / max(signal, 1e-12)
    return errors


def _latency(fp32: Path, int8: Path, x: np.ndarray) -> dict:
    """Median ms per batch-1 call in onnxruntime, FP32 next to INT8, on this machine's CPU (both
    timed in alternating blocks): INT8 is only worth its loss when it is faster."""
    from yolov11.export.deploy.infer import RUNTIMES
    from yolov11.export.verify import median_ms
    from yolov11.machine import usable_cpus

    threads = usable_cpus()
    run_fp32, run_int8 = RUNTIMES["onnx"](fp32, "cpu", threads), RUNTIMES["onnx"](int8, "cpu", threads)
    fp32_ms, int8_ms = median_ms(lambda: run_fp32(x), lambda: run_int8(x), runs=LATENCY_CALLS)
    return {
        "fp32": fp32_ms, "int8": int8_ms, "speedup": round(fp32_ms / int8_ms, 2) if int8_ms else None, "batch": 1,
        "device": f"cpu ({threads} threads, onnxruntime)", "repeats": LATENCY_CALLS,
    }


def quantize_int8(fp32: Path, dest: Path, images: list[Path], imgsz: tuple[int, int], limit: int = CALIBRATION_IMAGES, *,
                  data_yaml: Path | None = None, tolerance: float = 0.01, reference: dict | None = None) -> dict:
    """Write ``dest``, the INT8 version of ``fp32``, calibrated on up to ``limit`` of ``images``,
    guarded by the mAP50-95 loss on ``data_yaml``'s val split (see the module's docstring) against
    ``reference`` (``accuracy.reference`` of the eager model; without it, the FP32 file scored).
    Returns what was done, for the report: method, calibration_images, quantized_nodes, and the
    guard's map50_95 {fp32, fp32_as_exported, int8, loss}, loss, tolerance, met, attempts, kept_float,
    latency_ms, message."""
    import onnx

    fp32, dest = Path(fp32), Path(dest)
    model = onnx.load(str(fp32))
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    picked = [images[i] for i in np.linspace(0, len(images) - 1, min(limit, len(images))).round().astype(int)] if images else []
    report = {"method": METHOD, "calibration_images": len(picked), "tolerance": tolerance}
    if not data_yaml:
        _quantize(fp32, dest, model, picked, imgsz, set())
        report.update(quantized_nodes=len(convs), kept_float=[], met=None, map50_95=None, loss=None, attempts=[])
        report["message"] = "INT8 guard: not measured (no dataset to score mAP50-95 on): every convolution is quantized, its loss unknown"
        return report

    head = head_convs(model)
    with tempfile.TemporaryDirectory(prefix="int8-guard-", dir=dest.parent) as tmp:
        tmp = Path(tmp)
        ref = reference or accuracy.file_reference(fp32, data_yaml, imgsz[0], tmp)
        plans: list[list[str]] = [[]]
        if head:
            plans.append(head)
        attempts, best = [], None
        while len(attempts) < min(MAX_ATTEMPTS, len(plans)):
            float_convs = plans[len(attempts)]
            path = tmp / f"attempt{len(attempts)}.onnx"
            _quantize(fp32, path, model, picked, imgsz, set(float_convs))
            verdict = accuracy.guard(ref, accuracy.score_export(path, data_yaml, ref, tmp), tolerance)
            attempt = {"kept_float": len(float_convs), "quantized": len(convs) - len(float_convs), "map50_95": verdict["map50_95"]["int8"],
                       "loss": verdict["loss"], "path": path, "names": float_convs, "verdict": verdict}
            attempts.append(attempt)
            if best is None or attempt["loss"] < best["loss"]:
                best = attempt
            if verdict["met"]:
                break
            if len(attempts) == 1:  # the all-convs file: rank the non-head convs by their own error
                rest = [c for c in convs if c not in head]
                inputs = [
                    to_input([letterbox(load_rgb(p), imgsz)[0]])
                    for p in picked[:: max(1, len(picked) // SENSITIVITY_IMAGES)][:SENSITIVITY_IMAGES]
                ]
                errors = conv_sensitivity(model, path, inputs, rest) if inputs else {}
                ranked = sorted(rest, key=lambda c: -errors.get(c, 0.0))
                plans += [head + ranked[: math.ceil(f * len(ranked))] for f in SENSITIVE_STEPS if ranked]
        shutil.move(str(best["path"]), dest)
        x = (
            to_input([letterbox(load_rgb(picked[0]), imgsz)[0]]) if picked
            else np.random.default_rng(0).random((1, 3, *imgsz), dtype=np.float32)
        )
        latency = _latency(fp32, dest, x)
    report.update(quantized_nodes=best["quantized"], kept_float=best["names"], **best["verdict"])
    report["attempts"] = [{k: a[k] for k in ("kept_float", "quantized", "map50_95", "loss")} for a in attempts]
    report["latency_ms"] = latency
    if not report["met"]:
        m = report["map50_95"]
        report["message"] = (
            f"INT8 could not meet the mAP50-95 tolerance {tolerance:g}: the best of {len(attempts)} attempts lost {best['loss']:.4f} "
            f"(FP32 {m['fp32_as_exported']:.4f} -> INT8 {m['int8']:.4f} on the same input) "
            f"with {len(best['names'])} of {len(convs)} convolutions kept in float. "
            "That file is kept, flagged; for the accuracy, export FP32 instead (the same export without --int8)."
        )
    return report


def int8_summary(q: dict | None) -> str:
    """What the INT8 guard of a report (this module's ``quantize_int8`` or OpenVINO's) measured and
    decided, in words, for the CLI and the Export tab."""
    if not q:
        return ""
    if q.get("met") is None:
        return q.get("message") or "INT8 guard: not measured"
    m, lat = q["map50_95"], q.get("latency_ms") or {}
    if "kept_float" in q:  # onnxruntime's: this module's guard
        total = q["quantized_nodes"] + len(q["kept_float"])
        kept = f"{len(q['kept_float'])} of {total} convolutions kept in float" if q["kept_float"] else f"all {total} convolutions quantized"
        tries = f" after {len(q['attempts'])} attempt(s)"
    else:  # OpenVINO's (export/openvino.py): NNCF's accuracy control puts layers back itself
        search = q.get("search") or {}
        kept = (f"NNCF's accuracy control chose the layers on {search.get('images', '?')} val images "
                f"(its own scoring, max drop {q['tolerance']:g}): {q.get('fake_quantize_ops', 0)} quantize ops, the head's decode in float")
        tries = ""
    speed = f"; INT8 {lat['int8']:g} ms vs FP32 {lat['fp32']:g} ms ({lat['speedup']:g}x, {lat['device']})" if lat.get("int8") else ""
    if lat.get("speedup") is not None and lat["speedup"] < 1:
        speed += ": INT8 is no faster than FP32 here, so FP32 is the better export on this machine"
    fp32 = m.get("fp32_as_exported", m["fp32"])
    verdict = "met" if q["met"] else "NOT met"
    change = f"a loss of {q['loss']:.4f}" if q["loss"] > 0 else f"no loss (INT8 is {-q['loss']:.4f} higher)"
    line = (f"INT8 guard {verdict}{tries}, measured on {m.get('measured_on', 'the val split')}: "
            f"INT8 {m['int8']:.4f} against FP32 {fp32:.4f}, {change}; the tolerance accepts a loss of at most {q['tolerance']:g}. "
            f"{kept[0].upper()}{kept[1:]}{speed}")
    return line if q["met"] else f"{line}. {q['message']}"


def export_int8(fp32: Path, dest: Path, *, train_images: list[Path], val_images: list[Path], imgsz: int, tolerance: float,
                reference: dict | None, data_yaml: Path, out_dir: Path, weights_name: str) -> tuple[dict, float | None]:
    """The exporter's ONNX INT8 step (``formats``' "quantize" hook): ``dest`` from the FP32 export
    ``fp32`` (removed after), calibrated on the train images (the val ones when there are none).
    Returns the report's "quantization" and the INT8 file's mAP50-95 when the guard scored it."""
    try:
        q = quantize_int8(
            fp32, dest, train_images or val_images, (imgsz, imgsz), data_yaml=data_yaml, tolerance=tolerance, reference=reference
        )
    finally:
        Path(fp32).unlink(missing_ok=True)
    return q, (q["map50_95"] or {}).get("int8")
