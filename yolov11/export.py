"""Export to ONNX or TorchScript through Ultralytics' exporter, then verify against eager PyTorch.

Verification feeds the same real validation image (or a fixed random one when the dataset is
unknown) to the eager model and to the exported file (onnxruntime / torch.jit) and reports the
largest absolute difference of the raw outputs, plus median latencies of both.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import torch

from yolov11 import offline
from yolov11.errors import UserError
from yolov11.workspace import Workspace

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript"}
LATENCY_RUNS = 10  # median of this many timed calls, after one warm-up


def _weights(ws: Workspace, run: str | None, weights: str | Path | None) -> tuple[Path, str]:
    """The .pt to export and the exports/ folder name: the run id for a run's weights/*.pt."""
    if run:
        return ws.run_weights(run), run
    if not weights:
        raise UserError("export: give --weights W (a .pt file) or --run R")
    path = Path(weights).expanduser().resolve()
    if not path.is_file() or path.suffix != ".pt":
        raise UserError(f"--weights {weights}: not an existing .pt file")
    return path, path.parent.parent.name if path.parent.name == "weights" else path.stem


def _sample_input(ws: Workspace, run: str | None, imgsz: int) -> np.ndarray:
    """(1, 3, imgsz, imgsz) float32 in 0..1: a validation image of the run's dataset if any."""
    from PIL import Image

    record = ws.run(run) if run else None
    data = ws.dataset(record["dataset"]) if record else None
    images = sorted((Path(data["path"]) / "images" / "val").glob("*")) if data else []
    if images:
        with Image.open(images[0]) as im:
            arr = np.asarray(im.convert("RGB").resize((imgsz, imgsz)), np.float32) / 255.0
        return arr.transpose(2, 0, 1)[None].copy()
    return np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)


def _median_ms(fn, runs: int = LATENCY_RUNS) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(float(np.median(times)), 3)


def verify_export(path: Path, fmt: str, weights: Path, x: np.ndarray) -> dict:
    """Raw-output agreement and latency of an exported file against the eager model."""
    offline.prepare()
    from ultralytics import YOLO

    eager = YOLO(str(weights)).model.float().eval()
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        ref = eager(xt)
        ref = (ref[0] if isinstance(ref, (list, tuple)) else ref).numpy()
        eager_ms = _median_ms(lambda: eager(xt))
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        run = lambda: session.run(None, {name: x})[0]  # noqa: E731
    else:
        module = torch.jit.load(str(path), map_location="cpu").eval()

        def run():
            with torch.inference_mode():
                out = module(xt)
            return (out[0] if isinstance(out, (list, tuple)) else out).float().numpy()

    out = run()
    if out.shape != ref.shape:
        raise UserError(f"{path.name}: output shape {out.shape} differs from eager {ref.shape}")
    diff = np.abs(out.astype(np.float32) - ref)
    # Rows 0-3 are box coordinates in input pixels, the rest class scores in 0..1: divided by the
    # input size, both compare on one scale (float32 rounding grows with the pixel value).
    scale = np.ones((diff.shape[1], 1), np.float32)
    scale[:4] = max(x.shape[2:])
    return {
        "max_abs_diff": float(diff.max()),
        "max_abs_diff_normalized": float((diff / scale).max()),
        "output_shape": list(out.shape),
        "latency_ms": {"eager": eager_ms, "exported": _median_ms(run)},
    }


def export_model(
    weights: str | Path | None = None,
    format: str = "onnx",
    *,
    run: str | None = None,
    imgsz: int | None = None,
    dynamic: bool = False,
    half: bool = False,
    verify: bool = True,
    workspace: Workspace | str | Path | None = None,
) -> dict:
    """Export ``weights`` (or a run's best weights) and return {"path", "format", "verify", ...}."""
    offline.prepare()
    from ultralytics import YOLO

    if format not in FORMATS:
        raise UserError(f"--format {format}: choose one of {', '.join(FORMATS)}")
    ws = Workspace.at(workspace)
    weights_path, label = _weights(ws, run, weights)
    model = YOLO(str(weights_path))
    imgsz = imgsz or model.ckpt.get("train_args", {}).get("imgsz", 640)
    try:
        produced = Path(model.export(format=format, imgsz=imgsz, dynamic=dynamic, quantize=16 if half else None, device="cpu", verbose=False))
    except Exception as exc:
        raise UserError(f"export {format} of {weights_path.name} failed: {type(exc).__name__}: {exc}") from None
    out_dir = ws.exports_dir / label
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / produced.name
    shutil.move(str(produced), dest)
    result = {"path": str(dest), "format": format, "weights": str(weights_path), "imgsz": imgsz, "dynamic": dynamic, "half": half}
    result["size_mb"] = round(dest.stat().st_size / 2**20, 2)
    if verify:
        result["verify"] = verify_export(dest, format, weights_path, _sample_input(ws, run, imgsz))
    return result
