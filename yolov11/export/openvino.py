"""OpenVINO IR: the folder Ultralytics' exporter writes, and INT8 by NNCF with accuracy control.

FP32 and FP16 come from Ultralytics' exporter (``<stem>_openvino_model/`` holding ``<stem>.xml``,
``<stem>.bin`` and ``metadata.yaml``). INT8 is made here from the FP32 IR with
``nncf.quantize_with_accuracy_control``: calibrated on up to CALIBRATION_IMAGES of the run's train
images, letterboxed as deployed (the bundle's infer.py), and validated on the val split with the
validator's own mAP50-95 (its multi-label NMS, matching and AP, in original image pixels), so
NNCF puts layers back into float until the loss is at most ``tolerance`` or it runs out of
MAX_ITERATIONS. The head's decode (DFL, the box arithmetic and the class sigmoids) is kept float
from the start through an ``nncf.IgnoredScope``, as Ultralytics' own OpenVINO INT8 does: box pixels
(0..imgsz) and scores (0..1) cannot share one INT8 scale. NNCF's scoring is its search's only: the
guard's verdict is the validator's on the whole val split, against FP32 on the same input
(accuracy.py, applied by export_model, which refuses an INT8 model over the tolerance: it never
ships silently), so the report has one FP32 baseline, Evaluate's.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from yolov11.export.deploy.infer import MODEL_NAMES, letterbox, load_rgb, to_input

SUFFIX = MODEL_NAMES["openvino"][1]  # an IR folder, as Ultralytics names it
CALIBRATION_IMAGES = 64  # activation statistics: one FP32 forward pass each
VALIDATION_IMAGES = 64  # val images each candidate model is scored on (the fixture has 16)
MAX_ITERATIONS = 8  # at most this many groups of layers put back into float by the accuracy control
RANKING_IMAGES = 8  # images NNCF ranks the layers' contribution to the loss on
METHOD = (
    "NNCF quantize_with_accuracy_control (OpenVINO IR, mixed preset: symmetric s8 weights, asymmetric u8 activations; "
    "head decode in float)"
)
LOG = logging.getLogger("yolov11")


def model_xml(folder: Path) -> Path:
    """The .xml of an IR folder (or the .xml itself)."""
    folder = Path(folder)
    if folder.suffix == ".xml":
        return folder
    found = sorted(folder.glob("*.xml"))
    if not found:
        raise FileNotFoundError(f"{folder}: no OpenVINO .xml inside")
    return found[0]


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) if Path(path).is_dir() else Path(path).stat().st_size


def pin_image_size(folder: Path, imgsz: int, simplify: bool, half: bool) -> None:
    """A fully dynamic IR -> batch-only: height and width fixed at ``imgsz``, and Ultralytics'
    loader told it is not fully dynamic (else it letterboxes to minimal rectangles)."""
    import openvino as ov

    from yolov11.compat.export import openvino_not_dynamic

    xml = model_xml(folder)
    model = ov.Core().read_model(str(xml))
    model.reshape({model.inputs[0]: ov.PartialShape([-1, 3, imgsz, imgsz])})
    tmp = xml.with_name("pinned.xml")
    ov.save_model(model, str(tmp), compress_to_fp16=half)
    del model
    for ext in (".xml", ".bin"):
        tmp.with_suffix(ext).replace(xml.with_suffix(ext))
    openvino_not_dynamic(Path(folder))


def head_scope(ov_model):
    """The Detect head's decode kept float: every Sigmoid, and the ops of the head module after
    its last convolutions (DFL, anchors, box arithmetic), found by the traced module names."""
    import nncf

    ops = ov_model.get_ordered_ops()
    sigmoids = [op.get_friendly_name() for op in ops if op.get_type_name() == "Sigmoid"]
    if not sigmoids:
        return None
    head = sigmoids[-1].split("/", 1)[0]  # "__module.model.23/aten::sigmoid/Sigmoid" -> the Detect module
    names = [
        op.get_friendly_name() for op in ops
        if op.get_type_name() == "Sigmoid" or op.get_friendly_name().startswith((f"{head}/", f"{head}.dfl"))
    ]
    return nncf.IgnoredScope(names=names, validate=False)


def _labels(image: Path) -> np.ndarray:
    """(m, 5) class x1 y1 x2 y2 in pixels of the image, from its YOLO label file."""
    from yolov11.data.yolo_format import label_path

    h, w = load_rgb(image).shape[:2]
    path = label_path(image)
    rows = np.loadtxt(path, ndmin=2, dtype=np.float32) if path.is_file() and path.stat().st_size else np.zeros((0, 5), np.float32)
    rows = rows[:, :5].reshape(-1, 5)
    cx, cy, bw, bh = rows[:, 1] * w, rows[:, 2] * h, rows[:, 3] * w, rows[:, 4] * h
    return np.stack([rows[:, 0], cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)


def _item(image: Path, imgsz: int) -> tuple[np.ndarray, tuple, tuple[int, int], np.ndarray]:
    rgb = load_rgb(image)
    x, gains = letterbox(rgb, (imgsz, imgsz))
    return to_input([x]), gains, rgb.shape[:2], _labels(image)


def _detections(output: np.ndarray, gains: tuple, hw: tuple[int, int]) -> np.ndarray:
    """One raw (1, 4 + nc, anchors) output -> the validator's detections in original image pixels."""
    import torch

    from yolov11.compat.export import val_nms

    det = val_nms(torch.from_numpy(np.ascontiguousarray(output, np.float32)))
    gain_y, gain_x, left, top = gains
    det[:, :4] = (det[:, :4] - [left, top, left, top]) / [gain_x, gain_y, gain_x, gain_y]
    det[:, :4] = np.clip(det[:, :4], 0, [hw[1], hw[0], hw[1], hw[0]])
    return det


def score(compiled, items) -> float:
    """mAP50-95 of a compiled model on (input, gains, hw, labels) items: NNCF's validation_fn."""
    from yolov11.compat.export import map50_95

    items = list(items)
    dets = [_detections(compiled(x)[0], gains, hw) for x, gains, hw, _ in items]
    return map50_95(dets, [labels for *_, labels in items])


def _spread(images: list[Path], limit: int) -> list[Path]:
    return [images[i] for i in np.linspace(0, len(images) - 1, min(limit, len(images))).round().astype(int)] if images else []


def quantize_int8(fp32: Path, dest: Path, calibration: list[Path], validation: list[Path], imgsz: int, tolerance: float = 0.01, *,
                  max_iterations: int | None = None) -> dict:
    """Write ``dest`` (an IR folder), the INT8 version of the FP32 IR folder ``fp32``, NNCF keeping
    the loss its search measures within ``tolerance``. Returns what was done; the guard's verdict
    (map50_95, loss, met) is added by the caller from the validator's numbers."""
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    max_iterations = max_iterations or MAX_ITERATIONS
    if not validation:
        raise ValueError("no validation images: INT8 with accuracy control needs the val split")
    core = ov.Core()
    model = core.read_model(str(model_xml(fp32)))
    calib = nncf.Dataset(
        [to_input([letterbox(load_rgb(p), (imgsz, imgsz))[0]]) for p in _spread(calibration or validation, CALIBRATION_IMAGES)]
    )
    items = [_item(p, imgsz) for p in _spread(validation, VALIDATION_IMAGES)]
    val = nncf.Dataset(items, lambda item: item[0])
    scope = head_scope(model)
    nncf.set_log_level(logging.WARNING)  # its per-op INFO lines would flood the app's log
    restorer = AdvancedAccuracyRestorerParameters(max_num_iterations=max_iterations, ranking_subset_size=min(RANKING_IMAGES, len(items)))
    quantized = nncf.quantize_with_accuracy_control(
        model,
        calib,
        val,
        validation_fn=lambda compiled, data: (score(compiled, data), None),
        max_drop=tolerance,
        drop_type=nncf.DropType.ABSOLUTE,
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=calib.get_length(),
        ignored_scope=scope,
        advanced_accuracy_restorer_parameters=restorer,
    )
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    xml = dest / model_xml(fp32).name
    ov.save_model(quantized, str(xml), compress_to_fp16=False)
    for extra in Path(fp32).glob("metadata.yaml"):  # names, stride, imgsz: what Ultralytics' loader reads
        shutil.copy2(extra, dest / extra.name)
    ops = quantized.get_ordered_ops()
    convs = [op for op in ops if op.get_type_name() == "Convolution"]
    fake = sum(op.get_type_name() in ("FakeQuantize", "FakeConvert") for op in ops)
    return {
        "method": METHOD,
        "calibration_images": calib.get_length(),
        "validation_images": len(items),
        "tolerance": tolerance,
        "max_iterations": max_iterations,
        "search": {
            "images": len(items),
            "max_drop": tolerance,
            "note": "NNCF's accuracy control scored its candidate models on these val images with its own pipeline (the deploy letterbox, "
                    "the validator's NMS and AP in original pixels) to choose which layers to put back into float; the guard's numbers "
                    "(map50_95, loss, met) are the validator's on the whole val split",
        },
        "fake_quantize_ops": fake,
        "convolutions": len(convs),
        "float_head_ops": len(scope.names) if scope else 0,
    }


def export_int8(fp32: Path, dest: Path, *, train_images: list[Path], val_images: list[Path], imgsz: int, tolerance: float,
                reference: dict | None, data_yaml: Path, out_dir: Path, weights_name: str) -> tuple[dict, float | None]:
    """The exporter's OpenVINO INT8 step (``formats``' "quantize" hook): NNCF from the FP32 IR
    ``fp32`` (removed after), then the validator's verdict on the INT8 folder. Over the tolerance
    nothing INT8 is kept: the FP32 IR is offered under its own name (UserError saying so). Returns
    the report's "quantization" and the INT8 folder's mAP50-95."""
    from yolov11.errors import UserError, plain
    from yolov11.export import accuracy

    try:
        try:
            q = quantize_int8(fp32, dest, train_images, val_images, imgsz, tolerance)
            int8_map = accuracy.score_export(dest, data_yaml, reference, out_dir)  # the validator's verdict, not NNCF's search's
            q.update(accuracy.guard(reference, int8_map, tolerance))
        except Exception as exc:  # no val images, or NNCF refusing the graph: one line, nothing left behind
            shutil.rmtree(dest, ignore_errors=True)
            raise UserError(
                field="--int8", detail=f"OpenVINO INT8 of {weights_name} failed: {type(exc).__name__}: {plain(exc)[:300]}"
            ) from None
        if not q["met"]:
            _refuse_int8(dest, fp32, q["map50_95"], tolerance)
        return q, q["map50_95"]["int8"]
    finally:
        shutil.rmtree(fp32, ignore_errors=True)  # the FP32 IR NNCF started from (a refusal has moved it to its own name)


def _refuse_int8(dest: Path, fp32: Path, m: dict, tolerance: float) -> None:
    """INT8 over the tolerance is never shipped: remove it, keep the FP32 IR under its own name, say so."""
    from yolov11.errors import UserError

    shutil.rmtree(dest, ignore_errors=True)
    plain_fp32 = fp32.with_name(fp32.name.replace(f"-fp32{SUFFIX}", SUFFIX).replace("-int8", ""))
    if plain_fp32.exists():
        shutil.rmtree(plain_fp32)
    fp32.rename(plain_fp32)
    raise UserError(
        f"--int8-tolerance {tolerance}: INT8 could not stay within it: mAP50-95 {m['fp32_as_exported']:.4f} (FP32) -> "
        f"{m['int8']:.4f} (INT8) on the same input, a loss of {m['loss']:.4f} on {m['measured_on']}, "
        "even with layers put back into float by NNCF's accuracy control. "
        f"No INT8 model was kept; FP32 is offered instead: {plain_fp32} (export --format openvino without --int8 verifies and bundles it)"
    )
