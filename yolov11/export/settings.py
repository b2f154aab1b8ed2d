"""Export settings: the defaults and help that ``export_model`` and the CLI's export flags
share, as TrainSettings does for training (``eval/settings.py`` for evaluation)."""

from __future__ import annotations

from dataclasses import dataclass, field

from yolov11.export.formats import FORMATS

LATENCY_RUNS = 10  # median of this many timed calls, after one warm-up


def option(default, help: str):
    """A settings field with its help (the CLI's --help)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ExportSettings:
    format: str = option("onnx", "; ".join(f"{f.name}: {f.help}" for f in FORMATS.values()))
    imgsz: int | None = option(None, "input size (default: the size the model was trained at)")
    dynamic: bool | str = option(False, "dynamic axes: batch, or full (batch, height, width; what --dynamic alone means)")
    half: bool = option(False, "FP16")
    int8: bool = option(
        False,
        "INT8 (onnx: onnxruntime static quantization; openvino: NNCF with accuracy control), calibrated on the dataset's train images",
    )
    int8_tolerance: float = option(
        0.01, "INT8: the largest mAP50-95 loss on the val split accepted (OpenVINO: NNCF's max_drop; a model over it is refused)"
    )
    nms: bool = option(False, "NMS inside the graph (output: max_det x [x1, y1, x2, y2, score, class])")
    opset: int | None = option(None, "ONNX opset (default: the newest this torch supports)")
    simplify: bool = option(True, "run onnxslim on the exported graph")
    data: str | None = option(None, "dataset for INT8 calibration, verification images and mAP (default: the run's)")
    conf: float = option(0.25, "score threshold of --nms graphs, the bundle and the detection check")
    iou: float = option(0.7, "NMS IoU threshold of --nms graphs and the detection check")
    repeats: int = option(LATENCY_RUNS, "timed calls per latency number (the median is reported)")


def help_of(settings: type, name: str) -> str:
    """A field's help with its default, for the CLI."""
    f = settings.__dataclass_fields__[name]
    return f"{f.metadata['help']} (default: {f.default})"
