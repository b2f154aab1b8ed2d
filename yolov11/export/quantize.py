"""INT8 ONNX by onnxruntime's static quantization, calibrated on the run's own images.

Calibration images go through the same letterbox the deployed model will see (the bundle's
infer.py), so the activation ranges measured here are the ones met in the field. Only the
convolutions are quantized: the head's decode mixes box pixels (0..imgsz) and class scores
(0..1), and one INT8 scale across both rounds every score to zero (Ultralytics excludes the
same nodes for the same reason). Weights are quantized per output channel, activations per
tensor, in the QDQ format that onnxruntime fuses into integer kernels on x86 and ARM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from yolov11.export.deploy.infer import letterbox, load_rgb, to_input

CALIBRATION_IMAGES = 64  # enough for stable min/max ranges; each is one forward pass of the FP32 model


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


def quantize_int8(fp32: Path, dest: Path, images: list[Path], imgsz: tuple[int, int], limit: int = CALIBRATION_IMAGES, *, data_yaml: Path | None = None, tolerance: float = 0.01) -> dict:
    """Write ``dest``, the INT8 version of ``fp32``, calibrated on up to ``limit`` of ``images``.
    Returns what was done, for the report."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(fp32))
    exclude = [n.name for n in model.graph.node if n.op_type != "Conv"]
    picked = [images[i] for i in np.linspace(0, len(images) - 1, min(limit, len(images))).round().astype(int)] if images else []
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
    # Keep Ultralytics' metadata (names, stride, imgsz) so YOLO("x_int8.onnx") still reads it.
    quantized = onnx.load(str(dest))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(model.metadata_props)
    onnx.save(quantized, str(dest))
    return {"method": "onnxruntime quantize_static (QDQ, per-channel s8 weights, u8 activations, MinMax)", "calibration_images": len(picked), "quantized_nodes": sum(n.op_type == "Conv" for n in model.graph.node)}
