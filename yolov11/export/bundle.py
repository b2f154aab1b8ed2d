"""The download bundle: model (a file, or a folder model: OpenVINO IR, NCNN) + metadata.json + infer.py + README.md
(+ the verification report).

metadata.json is the contract between the export and whoever deploys it: everything needed to
feed the model and read its output without Ultralytics. infer.py and README.md ship from
yolov11/export/deploy/, found next to this file.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from yolov11.export import formats

DEPLOY_DIR = Path(__file__).resolve().parent / "deploy"


def deploy_metadata(result: dict, names: list[str], strides: list[int]) -> dict:
    """metadata.json of an export ``result`` (export_model's dict) for a model with ``names`` and
    detection ``strides`` (8, 16, 32; the P2 variants add 4)."""
    stride = max(strides)
    io = formats.get(result["format"]).io
    nms, dynamic = result["nms"], result["dynamic"]
    batch = f"batch (at most {result['max_batch']})" if result.get("max_batch") else "batch" if dynamic else 1
    if nms:
        output = {
            "layout": "nms",
            "shape": [batch, result["max_det"], 6],
            "columns": "x1, y1, x2, y2 (input pixels), score, class id; rows after the last detection are zeros",
        }
    else:
        anchors = "anchors" if dynamic == "full" else sum((result["imgsz"] // s) ** 2 for s in strides)
        output = {
            "layout": "raw",
            "shape": [batch, 4 + len(names), anchors],
            "rows": "cx, cy, w, h (input pixels), then one score in 0..1 per class; apply class-wise NMS",
        }
    return {
        "model": Path(result["path"]).name,
        "format": result["format"],
        "precision": result["precision"],
        "class_names": names,
        "imgsz": [result["imgsz"], result["imgsz"]],
        "stride": stride,
        "dynamic": dynamic or False,
        "input": {
            "name": io[0], "layout": "NCHW", "dtype": "float16" if result["half"] and result.get("device") != "cpu" else "float32",
            "color": "RGB", "scale": "pixel / 255", "mean": [0, 0, 0], "std": [1, 1, 1],
        },
        # auto: pad only to a multiple of the stride (fully dynamic models take any stride multiple)
        "letterbox": {
            "auto": dynamic == "full", "stride": stride, "pad_value": 114, "center": True, "resize": "bilinear (OpenCV INTER_LINEAR)"
        },
        "output": {"name": io[1], **output},
        "defaults": {"conf": result["conf"], "iou": result["iou"], "max_det": result["max_det"]},
        "opset": result.get("opset"),
    }


def write_bundle(dest: Path, result: dict, metadata: dict) -> Path:
    """Zip the model at result["path"] with its metadata, infer.py, README.md and the report."""
    model = Path(result["path"])
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        if model.is_dir():  # an OpenVINO IR folder: .xml, .bin, metadata.yaml
            for f in sorted(model.iterdir()):
                zf.write(f, f"{model.name}/{f.name}")
        else:
            zf.write(model, model.name)
        zf.writestr("metadata.json", json.dumps(metadata, indent=1, ensure_ascii=False))
        zf.write(DEPLOY_DIR / "infer.py", "infer.py")
        zf.write(DEPLOY_DIR / "README.md", "README.md")
        if "verify" in result:
            zf.writestr("verification.json", json.dumps(result["verify"], indent=1, default=str))
    return dest
