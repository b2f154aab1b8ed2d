"""The GPU check's harness (bench/gpu_check.py): which packages are missing, each check run under
its own time limit within the script's budget, and the progress log on stderr."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import signal
import sys
import time

# import name -> what to pip install; "required" ones stop the script, the others fail their check only
REQUIRED = {"torch": "torch", "ultralytics": "ultralytics", "yaml": "pyyaml", "PIL": "pillow", "numpy": "numpy",
            "cv2": "opencv-python-headless", "faster_coco_eval": "faster-coco-eval", "fontTools": "fonttools", "matplotlib": "matplotlib"}
OPTIONAL = {"onnx": ("onnx", "onnx_fp16, tensorrt_fp16"), "onnxslim": ("onnxslim", "onnx_fp16, tensorrt_fp16"),
            "onnxruntime": ("onnxruntime-gpu", "onnx_fp16"), "tensorrt": ("tensorrt", "tensorrt_fp16"),
            "tensorboard": ("tensorboard", "ours (TensorBoard scalars)")}


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def missing_packages() -> dict[str, dict]:
    """Import name -> {"pip", "needed_by"} for each package that cannot be imported here (find_spec
    only: nothing is downloaded); onnxruntime without its CUDA provider counts as missing."""
    out = {}
    for name, pip in REQUIRED.items():
        if importlib.util.find_spec(name) is None:
            out[name] = {"pip": pip, "needed_by": "everything"}
    for name, (pip, checks) in OPTIONAL.items():
        if importlib.util.find_spec(name) is None:
            out[name] = {"pip": pip, "needed_by": checks}
    if "onnxruntime" not in out:
        try:
            import onnxruntime

            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                out["onnxruntime"] = {"pip": "onnxruntime-gpu (the installed onnxruntime has no CUDAExecutionProvider)",
                                      "needed_by": "onnx_fp16"}
        except Exception as exc:  # noqa: BLE001  (a broken install is as good as missing)
            out["onnxruntime"] = {"pip": f"onnxruntime-gpu ({type(exc).__name__}: {exc})", "needed_by": "onnx_fp16"}
    return out


class CheckTimeout(Exception):
    pass


@contextlib.contextmanager
def bounded(seconds: float):
    """Raise CheckTimeout in the main thread once ``seconds`` have passed (SIGALRM)."""
    def _alarm(signum, frame):
        raise CheckTimeout(f"over its {seconds:.0f} s limit")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Checks:
    """Runs each check under its limit and the overall budget; records seconds, result, failure."""

    def __init__(self, budget_s: float):
        self.t0, self.budget = time.time(), budget_s
        self.report: dict = {"checks": {}, "failed": []}

    def left(self) -> float:
        return self.budget - (time.time() - self.t0)

    def run(self, name: str, limit_s: float, fn, *args):
        limit = min(limit_s, self.left() - 5)
        if limit < 10:
            self.report["checks"][name] = {"ok": False, "error": f"skipped: {self.left():.0f} s of the budget left"}
            self.report["failed"].append(name)
            return None
        log(f"[{time.time() - self.t0:5.0f} s] {name} (limit {limit:.0f} s) ...")
        t = time.time()
        try:
            with bounded(limit):
                result = fn(*args)
            ok = bool(result.pop("ok", True)) if isinstance(result, dict) else True
        except Exception as exc:  # noqa: BLE001  (report every check, then fail)
            result, ok = {"error": " ".join(f"{type(exc).__name__}: {exc}".split())[:500]}, False
        entry = {"ok": ok, "seconds": round(time.time() - t, 1), **(result if isinstance(result, dict) else {})}
        self.report["checks"][name] = entry
        if not ok:
            self.report["failed"].append(name)
        log(f"[{time.time() - self.t0:5.0f} s] {name}: {'ok' if ok else 'FAILED'} {json.dumps(entry, default=str)[:400]}")
        return entry
