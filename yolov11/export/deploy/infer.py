"""Run an exported YOLO detector anywhere: its runtime, numpy and Pillow only (no ultralytics).

    pip install onnxruntime numpy pillow        # an .onnx model
    pip install openvino numpy pillow           # an OpenVINO IR (a *_openvino_model folder)
    pip install ncnn numpy pillow               # an NCNN model (a *_ncnn_model folder: .param + .bin)
    python infer.py photo.jpg [more.jpg ...] [--model model.onnx] [--conf 0.25] [--iou 0.7]

Prints one JSON document: {"model", "images": [{"image", "detections": [{"class", "class_id",
"confidence", "box": [x1, y1, x2, y2]}]}]}, boxes in pixels of the original image. Everything the
model needs to know (class names, input size, letterbox, output layout) is read from
metadata.json next to the model. The runtime follows the model (``model_format``): .onnx
onnxruntime, an IR folder or .xml openvino, an NCNN folder or .param ncnn, .torchscript torch (each
imported only when its model is used).

The preprocessing reproduces the training pipeline's (Ultralytics' LetterBox with OpenCV's
bilinear resize), so the numbers match the app's predictions; Pillow's own resize would not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

_COEF_BITS = 11  # OpenCV's INTER_LINEAR fixed-point weights: 1.0 == 2048


def load_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB, EXIF orientation applied (as OpenCV's imread does)."""
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and fixed-point weights of OpenCV's INTER_LINEAR along one axis."""
    f = ((np.arange(dst) + 0.5) * (src / dst) - 0.5).astype(np.float32)
    i0 = np.floor(f).astype(np.int64)
    f = f - i0
    f[i0 < 0], i0[i0 < 0] = 0, 0
    edge = i0 >= src - 1
    f[edge], i0[edge] = 0, src - 1
    w1 = np.rint(f * (1 << _COEF_BITS)).astype(np.int64)
    w0 = np.rint((1 - f) * (1 << _COEF_BITS)).astype(np.int64)
    return i0, np.minimum(i0 + 1, src - 1), np.stack([w0, w1])


def resize_bilinear(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR) for uint8 images, in numpy."""
    h, w = img.shape[:2]
    x0, x1, wx = _taps(w, width)
    y0, y1, wy = _taps(h, height)
    s = img.astype(np.int64)
    rows = s[:, x0] * wx[0][:, None] + s[:, x1] * wx[1][:, None]  # (h, width, c), scaled by 2048
    a, b = rows[y0] >> 4, rows[y1] >> 4  # OpenCV's vector path: 16-bit high multiplies, then round
    out = (((a * wy[0][:, None, None]) >> 16) + ((b * wy[1][:, None, None]) >> 16) + 2) >> 2
    return np.clip(out, 0, 255).astype(np.uint8)


def letterbox(img: np.ndarray, shape: tuple[int, int], stride: int = 32, auto: bool = False, pad_value: int = 114):
    """Resize keeping the aspect ratio, pad to ``shape`` (h, w) centred (to a stride multiple when
    ``auto``). Returns the image and the (gain_y, gain_x, pad_left, pad_top) that maps boxes back."""
    h, w = img.shape[:2]
    r = min(shape[0] / h, shape[1] / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = shape[1] - new_w, shape[0] - new_h
    if auto:
        dw, dh = dw % stride, dh % stride
    if (new_w, new_h) != (w, h):
        img = resize_bilinear(img, new_w, new_h)
    top, bottom = round(dh / 2 - 0.1), round(dh / 2 + 0.1)
    left, right = round(dw / 2 - 0.1), round(dw / 2 + 0.1)
    out = np.full((new_h + top + bottom, new_w + left + right, img.shape[2]), pad_value, np.uint8)
    out[top : top + new_h, left : left + new_w] = img
    return out, (new_h / h, new_w / w, left, top)


def to_input(images: list[np.ndarray]) -> np.ndarray:
    """Letterboxed (H, W, 3) uint8 RGB images -> (N, 3, H, W) float32 in 0..1."""
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2), np.float32) / 255.0


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression on (N, 4) xyxy boxes; indices kept, best first."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        lt = np.maximum(boxes[i, :2], boxes[rest, :2])
        rb = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        order = rest[inter / (area[i] + area[rest] - inter + 1e-9) <= iou]
    return np.array(keep, np.int64)


def decode(output: np.ndarray, conf: float, iou: float, max_det: int = 300) -> np.ndarray:
    """One image's model output -> (n, 6) x1, y1, x2, y2, score, class in input pixels.

    Two layouts: raw (4 + nc, anchors) with cx, cy, w, h then class scores, decoded with class-wise
    NMS as Ultralytics does; or NMS already in the graph, (max_det, 6) rows zero-padded.
    """
    if output.shape[-1] == 6 and output.shape[0] != 6:  # NMS in the graph
        return output[output[:, 4] > conf][:max_det].astype(np.float32)
    pred = output.T.astype(np.float32)  # (anchors, 4 + nc)
    scores = pred[:, 4:]
    cls = scores.argmax(1)
    score = scores[np.arange(len(cls)), cls]
    keep = score > conf
    pred, cls, score = pred[keep], cls[keep], score[keep]
    xy, wh = pred[:, :2], pred[:, 2:4] / 2
    boxes = np.concatenate([xy - wh, xy + wh], 1)
    kept = nms(boxes + cls[:, None] * 7680.0, score, iou)[:max_det]  # class offset: NMS never crosses classes
    return np.concatenate([boxes[kept], score[kept, None], cls[kept, None].astype(np.float32)], 1)


def openvino_telemetry_off() -> None:
    """``import openvino`` reports itself to Google Analytics (openvino_telemetry) unless a consent
    file in ~/intel says no: every consent check answers "declined" and the sender drops all."""
    try:
        from openvino_telemetry.utils import opt_in_checker, sender
    except ImportError:  # an OpenVINO without its telemetry package: nothing to switch off
        return
    opt_in_checker.OptInChecker.check = lambda self, *args, **kwargs: opt_in_checker.ConsentCheckResult.DECLINED
    sender.TelemetrySender.send = lambda self, backend, message: None


def model_format(model: Path) -> str:
    """The runtime a model needs, read from its name: ``.onnx`` onnxruntime, ``.torchscript`` torch,
    an OpenVINO IR (a ``*_openvino_model`` folder, or its .xml) openvino, an NCNN model (a
    ``*_ncnn_model`` folder, or its .param) ncnn. ValueError for anything else."""
    model = Path(model)
    for fmt, (file_suffix, folder_suffix) in MODEL_NAMES.items():
        if (file_suffix and model.suffix == file_suffix) or (folder_suffix and model.name.endswith(folder_suffix)):
            return fmt
    known = ", ".join(f or d for f, d in MODEL_NAMES.values())
    raise ValueError(f"{model.name}: not an exported model this script runs ({known})")


def runner(model: Path, device: str = "cpu", threads: int = 0):
    """(N, 3, H, W) float32 -> the model's first output as float32, on the runtime its file needs
    (``model_format``). ``device``: "cpu", or "cuda" where the runtime has it (onnxruntime's CUDA
    provider, torch); ``threads``: the runtime's threads (0: its default). The workbench verifies
    and times exports through this same function, so the numbers it reports are this script's."""
    return RUNTIMES[model_format(model)](Path(model), device, threads)


def _torchscript(model: Path, device: str, threads: int):
    import torch  # only for TorchScript bundles

    module = torch.jit.load(str(model), map_location=device).eval()
    half = next(iter(module.parameters()), torch.empty(0)).dtype == torch.float16  # a GPU FP16 export takes float16

    def run(x):
        with torch.inference_mode():
            xt = torch.from_numpy(x).to(device)
            out = module(xt.half() if half else xt)
        return (out[0] if isinstance(out, (list, tuple)) else out).float().cpu().numpy()

    return run


def _onnx(model: Path, device: str, threads: int):
    import onnxruntime as ort  # only for ONNX bundles

    cuda = device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        str(model), options, providers=["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    )
    # GPU FP16 exports take float16
    name, dtype = session.get_inputs()[0].name, np.float16 if "float16" in session.get_inputs()[0].type else np.float32
    return lambda x: session.run(None, {name: x.astype(dtype)})[0].astype(np.float32)


def _openvino(model: Path, device: str, threads: int):
    openvino_telemetry_off()  # before the import, which is when it first reports
    import openvino as ov  # only for OpenVINO bundles

    xml = model if model.suffix == ".xml" else sorted(model.glob("*.xml"))[0]
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}  # f32 as verified, also on bf16 CPUs
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(str(xml), "CPU", config)
    return lambda x: np.asarray(compiled(np.ascontiguousarray(x, np.float32))[0], np.float32)


def _ncnn(model: Path, device: str, threads: int):
    import ncnn  # only for NCNN bundles

    param = model if model.suffix == ".param" else sorted(model.glob("*.param"))[0]
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    if threads:
        net.opt.num_threads = threads  # read when the model loads: set before
    net.load_param(str(param))
    net.load_model(str(param.with_suffix(".bin")))
    inputs, outputs = net.input_names(), sorted(net.output_names())

    def run(x):
        out = []
        for sample in np.ascontiguousarray(x, np.float32):  # NCNN's graph has no batch axis: one image at a time
            with net.create_extractor() as ex:
                ex.input(inputs[0], ncnn.Mat(np.ascontiguousarray(sample)))
                out.append(np.array(ex.extract(outputs[0])[1], np.float32))
        return np.stack(out)

    return run


# format -> (file suffix, folder suffix): the names Ultralytics' loader recognises too
MODEL_NAMES = {
    "onnx": (".onnx", ""), "torchscript": (".torchscript", ""), "openvino": (".xml", "_openvino_model"), "ncnn": (".param", "_ncnn_model"),
}
RUNTIMES = {"onnx": _onnx, "torchscript": _torchscript, "openvino": _openvino, "ncnn": _ncnn}


class Detector:
    """An exported model and its metadata.json; ``detector(image_path)`` -> list of detections."""

    def __init__(self, model: str | Path, metadata: str | Path | None = None):
        model = Path(model)
        self.meta = json.loads(Path(metadata or model.with_name("metadata.json")).read_text())
        self.names = self.meta["class_names"]
        self.imgsz = tuple(self.meta["imgsz"])
        self.run = runner(model)

    def __call__(self, image: str | Path | np.ndarray, conf: float | None = None, iou: float | None = None) -> list[dict]:
        lb = self.meta["letterbox"]
        rgb = load_rgb(image) if not isinstance(image, np.ndarray) else image
        x, (gain_y, gain_x, left, top) = letterbox(rgb, self.imgsz, lb["stride"], lb["auto"], lb["pad_value"])
        defaults = self.meta["defaults"]
        dets = decode(self.run(to_input([x]))[0], defaults["conf"] if conf is None else conf, defaults["iou"] if iou is None else iou)
        h, w = rgb.shape[:2]
        boxes = (dets[:, :4] - [left, top, left, top]) / [gain_x, gain_y, gain_x, gain_y]
        boxes = np.clip(boxes, 0, [w, h, w, h])
        return [
            {"class": self.names[int(c)], "class_id": int(c), "confidence": round(float(s), 4), "box": [round(float(v), 1) for v in b]}
            for b, s, c in zip(boxes, dets[:, 4], dets[:, 5])
        ]


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description="Detect objects with the exported model next to this script.")
    p.add_argument("images", nargs="+")
    p.add_argument("--model", help="default: the model named in metadata.json next to this script")
    p.add_argument("--conf", type=float, help="score threshold (default: metadata.json defaults.conf)")
    p.add_argument("--iou", type=float, help="NMS IoU threshold (default: metadata.json defaults.iou)")
    args = p.parse_args(argv)
    model = Path(args.model) if args.model else here / json.loads((here / "metadata.json").read_text())["model"]
    detector = Detector(model)
    images = [{"image": str(i), "detections": detector(i, args.conf, args.iou)} for i in args.images]
    json.dump({"model": str(model), "images": images}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
