"""Export to ONNX (FP32, FP16, INT8; static, batch-dynamic or fully dynamic; NMS in the graph or
not), TorchScript or OpenVINO IR (FP32, FP16, INT8 by NNCF with accuracy control: openvino.py),
verify against eager PyTorch, and pack a bundle to deploy elsewhere.

One FP32 mAP50-95 baseline (accuracy.py: Evaluate's number for the same weights and split) is
computed once here and handed to the INT8 guards and the verification; the report's options are
the ones applied (an option a format ignores says so under "not_applied"), and ``checks``
(explain.py) says in words what each number is and why some look alarming.

Ultralytics' exporter writes the file (opset, dynamic axes, onnxslim, FP16, NMS); INT8 is
onnxruntime's static quantization calibrated on the run's own training images (quantize.py);
verification runs on real validation images (verify.py). Everything lands in
``exports/<run id or weights stem>/``: the model, ``<model>.verify.json`` (this function's
result) and ``<model stem>.bundle.zip`` (bundle.py).

``dynamic``: False (one image of ``imgsz``), "batch" (any batch at ``imgsz``; the anchor grid
stays constant in the graph) or "full" (any batch and any multiple of the stride); True means
"full", as in Ultralytics.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from yolov11 import checkpoints, liveness
from yolov11.compat import offline
from yolov11.errors import UserError, plain
from yolov11.export import accuracy, formats
from yolov11.export.bundle import deploy_metadata, write_bundle
from yolov11.export.explain import export_checks
from yolov11.export.formats import FORMATS, ExportFormat
from yolov11.export.settings import ExportSettings
from yolov11.export.verify import summary as verification_summary
from yolov11.export.verify import verify_export
from yolov11.training.settings import trained_imgsz
from yolov11.workspace import Workspace
from yolov11.workspace.paths import EXPORT_SCRATCH_PREFIX

__all__ = ["FORMATS", "export_model", "verify_export"]

VERIFY_IMAGES = 8  # validation images compared one by one (and tiled into the batch-8 latency input)
NMS_MAX_BATCH = 8  # an NMS graph unrolls its per-image loop: dynamic NMS exports take at most this many
MAX_DET = 300


def _weights(ws: Workspace, run: str | None, weights: str | Path | None) -> tuple[Path, str]:
    """The .pt to export and the exports/ folder name: the run id for a run's weights/*.pt."""
    if run:
        return ws.run_weights(run), run
    if not weights:
        raise UserError("export: give --weights W (a .pt file) or --run R")
    path = checkpoints.check(Path(weights).expanduser(), "--weights").resolve()  # refused or broken files fail here, clearly
    return path, path.parent.parent.name if path.parent.name == "weights" else path.stem


def _dynamic(value) -> str | bool:
    if value in (None, False, "", "none", "off", "false"):
        return False
    if value is True or value == "full":
        return "full"
    if value == "batch":
        return "batch"
    raise UserError(field="--dynamic", value=value, detail="use batch (batch axis only) or full (batch, height and width)")


def _data_yaml(ws: Workspace, run: str | None, data: str | None, train_args: dict) -> Path | None:
    """The dataset to calibrate and score on: --data, else the run's, else the one the weights were trained on."""
    if data:
        return ws.resolve_data(data)
    if run:
        record = ws.dataset(ws.require_run(run)["dataset"] or "")
        return Path(record["path"]) / "data.yaml" if record else None
    trained_on = Path(str(train_args.get("data") or ""))  # written by whoever made the .pt: read only if it is a sound data.yaml
    if trained_on.suffix not in (".yaml", ".yml") or not trained_on.is_file():
        return None
    try:
        return ws.resolve_data(trained_on)  # the bounded reader: a bomb there is refused, not expanded
    except UserError:
        return None


def _split_images(data_yaml: Path | None, split: str) -> list[Path]:
    if not data_yaml:
        return []
    from yolov11.compat.export import split_entries
    from yolov11.data.source import images_under

    try:
        entries = split_entries(data_yaml, split)
    except Exception as exc:  # a moved or broken dataset: say which file
        raise UserError(field="--data", value=data_yaml, detail=f"{type(exc).__name__}: {plain(exc)}") from None
    files: list[Path] = []
    for p in entries:
        files += (
            images_under(p) if p.is_dir()
            else [Path(line.strip()) for line in p.read_text().splitlines() if line.strip()] if p.is_file()
            else []
        )
    return files


def _sample_input(images: list[Path], imgsz: int) -> np.ndarray:
    """(N, 3, imgsz, imgsz) float32 in 0..1: up to VERIFY_IMAGES validation images, letterboxed as
    deployed; one fixed random image when the dataset is unknown."""
    from yolov11.export.deploy.infer import letterbox, load_rgb, to_input

    if images:
        return to_input([letterbox(load_rgb(p), (imgsz, imgsz))[0] for p in images[:VERIFY_IMAGES]])
    return np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)


def _file_name(stem: str, fmt: str, dynamic, half: bool, int8: bool, nms: bool, opset: int | None) -> str:
    tags = [
        {"batch": "dynbatch", "full": "dynamic"}.get(dynamic or "", ""), "nms" * nms, f"opset{opset}" if opset else "", "fp16" * half,
        "int8" * int8,
    ]
    return "-".join([stem, *filter(None, tags)]) + formats.get(fmt).suffix


def _run_exporter(weights: Path, dest: Path, fmt: str, owners: Path, **kwargs) -> None:
    """Ultralytics' exporter on a copy of ``weights`` in a scratch folder (it writes next to its
    input: the run folder stays untouched), its output moved to ``dest``."""
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory(prefix=f"{EXPORT_SCRATCH_PREFIX}{os.getpid()}-", dir=dest.parent) as tmp:
        liveness.mark(Path(tmp), owners)  # a killed export's scratch is removed at the next start, a live one's never
        copy = Path(tmp) / weights.name
        shutil.copy2(weights, copy)
        try:
            produced = YOLO(str(copy)).export(format=fmt, verbose=False, **kwargs)
        except Exception as exc:
            flag = f"--opset {kwargs['opset']}: " if kwargs.get("opset") and "opset" in str(exc) else ""
            raise UserError(f"{flag}{fmt} export of {weights.name} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
        if dest.is_dir():  # an IR folder made again: replace it, never move into it
            shutil.rmtree(dest)
        shutil.move(str(produced), dest)


def _check_options(fmt: ExportFormat, dynamic, half: bool, int8: bool, nms: bool, opset: int | None, gpu: bool) -> None:
    """Options the format cannot take, refused before anything is exported (what each supports:
    ``formats.FORMATS``)."""
    if dynamic and dynamic not in fmt.dynamic:
        raise UserError(
            field="--dynamic", value=dynamic, detail=f"{fmt.label} exports take a fixed input size and batch; export without --dynamic"
        )
    if int8 and (not fmt.int8 or half):
        made = " or ".join(f"{f.label} ({f.int8})" for f in FORMATS.values() if f.int8)
        without = " or ".join(f.name for f in FORMATS.values() if not f.int8)
        raise UserError(field="--int8", detail=f"INT8 is an {made} precision; not with --format {without} or --half")
    if nms and not fmt.nms:
        raise UserError(field="--nms", detail=f"{fmt.label} exports keep the raw output (apply NMS after the model); export without --nms")
    if int8 and nms and not fmt.int8_nms:
        raise UserError(
            field="--nms", detail=f"{fmt.label} INT8 is scored on the raw output (the validator's NMS); export it without --nms"
        )
    if opset is not None and not fmt.opset:
        raise UserError(
            field="--opset", value=opset, detail=f"only for --format {' or '.join(f.name for f in FORMATS.values() if f.opset)}"
        )
    if half and not fmt.half:
        raise UserError(field="--half", detail=f"{fmt.label} exports are FP32 here; export without --half")
    if half and fmt.half == "gpu" and not gpu:
        raise UserError(field="--half", detail=f"FP16 {fmt.label} needs a GPU and this machine has none; ONNX FP16 exports on CPU")


def _not_applied(fmt: ExportFormat, simplify: bool) -> dict:
    """Options asked for that this format does not use, each with why: the report says so rather than
    recording a value nothing acted on."""
    if simplify and not fmt.simplify:
        return {"simplify": f"onnxslim simplifies ONNX graphs only; Ultralytics' {fmt.name} export {fmt.converts}, so it was not run"}
    return {}


def _fp16_note(fmt: ExportFormat, device: str) -> str:
    if fmt.fp16_note:
        return fmt.fp16_note
    if device != "cpu":
        return "Ultralytics' exporter: FP16 traced on the GPU"
    return "Ultralytics' exporter: FP32 graph converted to FP16 (onnxruntime float16, float32 inputs and outputs)"


def _fp32_path(dest: Path, fmt: ExportFormat) -> Path:
    """Where an INT8 export's FP32 model goes first (a folder model keeps the ending Ultralytics' loader knows)."""
    if fmt.folder:
        return dest.with_name(dest.name.removesuffix(fmt.suffix) + "-fp32" + fmt.suffix)
    return dest.with_name(dest.stem + "-fp32" + dest.suffix)


def export_model(
    weights: str | Path | None = None,
    format: str = ExportSettings.format,
    *,
    run: str | None = None,
    imgsz: int | None = ExportSettings.imgsz,
    dynamic: bool | str = ExportSettings.dynamic,
    half: bool = ExportSettings.half,
    int8: bool = ExportSettings.int8,
    int8_tolerance: float = ExportSettings.int8_tolerance,
    nms: bool = ExportSettings.nms,
    opset: int | None = ExportSettings.opset,
    simplify: bool = ExportSettings.simplify,
    data: str | None = ExportSettings.data,
    conf: float = ExportSettings.conf,
    iou: float = ExportSettings.iou,
    verify: bool = True,
    bundle: bool = True,
    repeats: int = ExportSettings.repeats,
    workspace: Workspace | str | Path | None = None,
) -> dict:
    """Export ``weights`` (or a run's best weights); returns {"path", "format", "bundle", "verify", ...}.

    ``conf``/``iou`` are the NMS thresholds baked into an ``nms`` graph, written to the bundle's
    defaults and used to compare detections. ``data`` (a dataset name or data.yaml) defaults to the
    run's dataset: INT8 calibrates on its train images, verification uses its val images and mAP.
    """
    offline.prepare()
    import torch
    from ultralytics import YOLO

    fmt = formats.get(format)
    dynamic = _dynamic(dynamic)
    _check_options(fmt, dynamic, half, int8, nms, opset, torch.cuda.is_available())
    ws = Workspace.at(workspace)
    weights_path, label = _weights(ws, run, weights)
    model = YOLO(str(weights_path))
    train_args = model.ckpt.get("train_args", {}) if isinstance(model.ckpt, dict) else {}
    strides = [int(s) for s in model.model.stride]
    imgsz = imgsz or trained_imgsz(train_args) or 640
    if imgsz % max(strides):
        raise UserError(field="--imgsz", value=imgsz, detail=f"must be a multiple of {max(strides)}")
    data_yaml = _data_yaml(ws, run, data, train_args)
    if int8 and not data_yaml:
        raise UserError(field="--int8", detail="needs calibration images; give --run R or --data D (a dataset name or data.yaml)")

    out_dir = ws.exports_dir / label
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / _file_name(weights_path.stem, format, dynamic, half, int8, nms, opset)
    exporter_args = dict(
        imgsz=imgsz, dynamic=bool(dynamic), nms=nms, conf=conf, iou=iou, max_det=MAX_DET,
        device="0" if half and torch.cuda.is_available() else "cpu",
    )
    exporter_args.update(batch=NMS_MAX_BATCH if nms and dynamic else 1, quantize=16 if half else None)
    exporter_args.update(fmt.exporter_args(opset, simplify))
    fp32 = _fp32_path(dest, fmt) if int8 else dest  # INT8 is made from an FP32 export (removed after)
    _run_exporter(weights_path, fp32, format, ws.owners_dir, **exporter_args)
    if dynamic == "batch" and fmt.pin:
        fmt.hook("pin")(fp32, imgsz, simplify, half)
    result = {"path": str(dest), "format": format, "weights": str(weights_path), "imgsz": imgsz, "dynamic": dynamic, "half": half}
    result.update(
        int8=int8, precision="int8" if int8 else "fp16" if half else "fp32", nms=nms, opset=opset, simplify=simplify and fmt.simplify
    )
    result.update(conf=conf, iou=iou, max_det=MAX_DET, data=str(data_yaml) if data_yaml else None, device=exporter_args["device"])
    if _not_applied(fmt, simplify):
        result["not_applied"] = _not_applied(fmt, simplify)
    if nms and dynamic:
        result["max_batch"] = NMS_MAX_BATCH
    # The one FP32 baseline (and eager scored on the export's input), for the INT8 guards and the verification.
    val_images = _split_images(data_yaml, "val")
    reference = None
    if data_yaml and (verify or int8):
        reference = accuracy.reference(weights_path, data_yaml, imgsz, len(val_images), out_dir, conf=conf if nms else None,
                                       baseline_imgsz=trained_imgsz(train_args) or 640)  # as Evaluate picks it
    exported_map = None  # the exported file's mAP, when an INT8 guard has scored that very file
    if int8:
        result["quantization"], exported_map = fmt.hook("quantize")(
            fp32, dest, train_images=_split_images(data_yaml, "train"), val_images=val_images, imgsz=imgsz, tolerance=int8_tolerance,
            reference=reference, data_yaml=data_yaml, out_dir=out_dir, weights_name=weights_path.name)
    if half:
        result["fp16"] = _fp16_note(fmt, exporter_args["device"])
    from yolov11.export.openvino import folder_size  # a file's size, or an IR folder's files together

    result["size_mb"] = round(folder_size(dest) / 2**20, 2)
    if verify:
        x = _sample_input(val_images, imgsz)
        try:
            result["verify"] = verify_export(dest, format, weights_path, x, data_yaml=data_yaml, conf=conf, iou=iou, nms=nms,
                                             repeats=repeats, reference=reference, exported_map=exported_map)
        except UserError:
            raise
        except Exception as exc:  # e.g. an opset the runtime cannot run, or a graph it refuses
            raise UserError(f"{dest.name}: exported but does not run: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    result["checks"] = export_checks(result)
    report = dest.with_name(dest.name + ".verify.json")
    result["report"] = str(report)
    if bundle:
        result["bundle"] = str(write_bundle(
            dest.with_name(dest.stem + ".bundle.zip"), result, deploy_metadata(result, list(model.names.values()), strides)
        ))
    report.write_text(json.dumps(result, indent=1, default=str))
    if run:  # what a run's notebook needs to make the same export again
        options = dict(
            format=format, imgsz=imgsz, dynamic=dynamic, half=half, int8=int8, int8_tolerance=int8_tolerance, nms=nms, opset=opset
        )
        options.update(simplify=result["simplify"], data=data, conf=conf, iou=iou, verify=verify, bundle=bundle, repeats=repeats)
        ws.add_export(run, dest, format, options, verification_summary(result.get("verify")))
    return result
