"""Predict: detections as JSON and annotated images, from .pt weights or a model of any export
format (``yolov11.export.formats``: .onnx, .torchscript, an OpenVINO IR or NCNN folder, or the
.xml / .param inside it), loaded by Ultralytics' own backend for the format.

Each call writes into a folder of its own, ``predictions/<call>/``; the newest KEEP_PREDICTIONS
calls are kept (a public demo must not fill the disk). A call still running is never pruned, by
this process or another: while it runs its folder is named in ``<workspace>/.predicting/<call>/``
with its owner (yolov11.liveness; kept out of predictions/, which the app serves), and a marker
whose owner is gone is dropped. Messages name files by their name only: a /demo visitor must not
learn the server's paths.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import cv2

from yolov11 import checkpoints, liveness
from yolov11.compat import offline
from yolov11.data.checks import inspect_image
from yolov11.data.source import IMAGE_SUFFIXES
from yolov11.errors import UserError, plain
from yolov11.export import formats
from yolov11.serve.sliced import detect_sliced, slicing_of, tile_batch
from yolov11.training.settings import trained_imgsz
from yolov11.workspace import Workspace

CACHED_MODELS = 4  # loaded detectors kept: the published one, a run or two being tried
KEEP_PREDICTIONS = 200  # newest predict calls whose annotated images stay in predictions/
IN_FLIGHT = ".predicting"  # <workspace>/.predicting/<call>/.owner: a predictions/<call>/ being written, and by whom
UNMARKED_GRACE_S = 60.0  # an in-flight marker not yet naming its owner (created a moment ago) counts as alive this long
# An absolute path in a library's message: a folder or more, then the last part (what is kept)
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:/[^/\s'\"():,;]+)+/([^/\s'\"():,;]+)")
_CACHE: OrderedDict[tuple, object] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def no_paths(text: str, *paths: Path) -> str:
    """``text`` (a library's message) with each of ``paths`` and any other absolute path cut to
    its last part: messages reach /demo visitors, who must not learn the server's layout."""
    for path in paths:
        for form in {str(path), str(Path(path).expanduser().resolve())}:
            text = text.replace(form, Path(path).name)
    return _ABSOLUTE_PATH.sub(r"\1", text)


def _sources(source: str | Path | list) -> list[Path]:
    items = source if isinstance(source, (list, tuple)) else [source]
    files: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(field="--source", value=path.name, detail="no such file or folder")
    if not files:
        named = ", ".join(Path(item).name for item in items)
        raise UserError(field="--source", value=named, detail="no images found")
    for path in files:
        problem = inspect_image(path).problem  # what an import checks: readable, not a pixel bomb
        if problem:
            raise UserError(field="--source", value=path.name, detail=f"{no_paths(problem, path)}")
    return files


def weights_path(weights: str | Path) -> Path:
    """The weights as predict loads them: a file, or a folder model (its .xml or .param -> the folder)."""
    return formats.model_path(weights)


def _stamp(weights: Path) -> tuple[int, int]:
    """Size and mtime of the file, or of an IR folder's files together (a re-export is a new key)."""
    files = sorted(weights.iterdir()) if weights.is_dir() else [weights]
    stats = [f.stat() for f in files if f.is_file()]
    return sum(st.st_size for st in stats), max((st.st_mtime_ns for st in stats), default=0)


def checked_weights(weights: str | Path) -> Path:
    """The weights as predict loads them (see weights_path), refused with a UserError naming
    them unless they are a .pt or a model of an export format (yolov11.export.formats)."""
    weights = weights_path(weights)
    fmt = formats.of_path(weights)
    if fmt is not None:
        return fmt.check(weights)
    if weights.suffix != ".pt":
        files = sorted([".pt", *(n for n in formats.model_names() if not n.endswith("/"))])
        folders = [n.rstrip("/") for n in formats.model_names() if n.endswith("/")]
        raise UserError(
            field="--weights", value=weights.name, detail=f"expected a {', '.join(files)} file or a {' or '.join(folders)} folder"
        )
    if not weights.is_file():
        raise UserError(field="--weights", value=weights.name, detail="no such file")
    return weights


def fresh_detector(weights: str | Path):
    """A detector of its own (not the cached one, with the same checks as load_detector): for
    callers whose predictor keeps state across calls, such as a video's tracker."""
    return _load(checked_weights(weights))


def load_detector(weights: str | Path):
    """A YOLO detector from .pt weights or an exported model (yolov11.export.formats); bad files
    get a UserError naming them.

    Loaded models are kept (the last CACHED_MODELS files, keyed by path, size and mtime), so a
    busy /demo page does not reload its model on every photo; a re-published file is a new key.
    """
    weights = checked_weights(weights)
    key = (str(weights.resolve()), *_stamp(weights))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    model = _load(weights)
    with _CACHE_LOCK:
        _CACHE[key] = model
        while len(_CACHE) > CACHED_MODELS:
            _CACHE.popitem(last=False)
    return model


def _load(weights: Path):
    offline.prepare()
    from ultralytics import YOLO

    if weights.suffix == ".pt":
        checkpoints.check(weights, "--weights")  # the restricted unpickler's verdict, in one line
    try:
        model = YOLO(str(weights), task="detect")
        _ = model.names  # exported formats open their runtime session here: a broken file fails now, not mid-batch
    except Exception as exc:
        raise UserError(
            field="--weights", value=weights.name,
            detail=f"could not load the model ({type(exc).__name__}: {no_paths(plain(exc), weights)})",
        ) from None
    model.lock = threading.Lock()  # one prediction at a time per model: Ultralytics' predictor keeps state
    return model


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def one_device(device: str | None) -> str:
    """The device a prediction runs on: "cpu", a GPU index, or (None) the first GPU when there is one."""
    from yolov11.training.settings import normalize_device

    device = normalize_device(device if device is not None else ("0" if _has_gpu() else "cpu"))
    if "," in device:
        raise UserError(field="--device", value=device, detail="predict runs on one device, e.g. --device 0")
    return device


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # pruned meanwhile by a concurrent call
        return 0.0


def _in_flight(ws: Workspace) -> set[str]:
    """Names of the calls whose folder is still being written by a living process; markers of
    owners that died are dropped (their folders are ordinary old calls now)."""
    running = set()
    marks = ws.root / IN_FLIGHT
    for mark in marks.iterdir() if marks.is_dir() else ():
        if liveness.owned_by_the_living(mark, ws.owners_dir, unmarked_grace_s=UNMARKED_GRACE_S):
            running.add(mark.name)
        else:
            shutil.rmtree(mark, ignore_errors=True)
    return running


def _prune(ws: Workspace, keep: int) -> None:
    """Keep the newest ``keep`` finished calls' folders, and every call's still in flight."""
    calls = [p for p in ws.predictions_dir.iterdir() if p.is_dir()]  # listed before the markers: a folder is marked before it exists
    running = _in_flight(ws)
    done = sorted((p for p in calls if p.name not in running), key=_mtime)
    for old in done[: max(len(done) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def call_folder(ws: Workspace, kind: str = "") -> Iterator[Path]:
    """A new ``predictions/<call>/`` for one call, safe from any process's pruning while the block
    runs (its marker names this process first, then the folder is made). Removed if the block
    fails or is interrupted; otherwise stamped as new as its result, and unmarked."""
    _prune(ws, KEEP_PREDICTIONS - 1)
    marks = ws.root / IN_FLIGHT
    marks.mkdir(exist_ok=True)
    while True:  # unique even within a second: two webcam snapshots both named image.png
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}{secrets.token_hex(4)}"
        try:
            (marks / name).mkdir()
            break
        except FileExistsError:
            continue
    folder = ws.predictions_dir / name
    try:
        liveness.mark(marks / name, ws.owners_dir)
        folder.mkdir()
        yield folder
        os.utime(folder)  # a long video finishes as the newest call, not as old as its start
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(marks / name, ignore_errors=True)


def predict(
    weights: str | Path,
    source: str | Path | list,
    conf: float = 0.25,
    iou: float = 0.7,
    imgsz: int | None = None,
    workspace: Workspace | str | Path | None = None,
    device: str | None = None,
    sliced: object = None,
    slice_size: int | None = None,
    slice_overlap: float | None = None,
) -> dict:
    """Detect objects in ``source`` (image, folder or list); annotated copies go to predictions/.
    ``device``: "cpu", a GPU index, or None for the first GPU when there is one. ``sliced``: True
    (or "on"), "auto" (only images with a side over twice the model's input) or a
    ``sliced.Slicing``: small objects found tile by tile (``serve/sliced.py``); ``slice_size``
    (default: the model's input size) and ``slice_overlap`` (default 0.2) tune it."""
    if not 0.0 <= conf <= 1.0:
        raise UserError(field="--conf", value=conf, detail="must be between 0 and 1")
    slicing = slicing_of(sliced, slice_size, slice_overlap)
    device = one_device(device)
    ws = Workspace.at(workspace)
    files = _sources(source)
    weights = weights_path(weights)
    model = load_detector(weights)
    if imgsz is None and weights.suffix == ".pt":  # exported files carry their input size in metadata
        imgsz = trained_imgsz(model.ckpt.get("train_args", {}))
    size = {"imgsz": imgsz} if imgsz else {}
    images = []
    with call_folder(ws) as out_dir:  # concurrent users of the app must not overwrite each other's annotated copies
        for path in files:
            annotated = out_dir / f"{path.stem}.jpg"
            try:
                if slicing is None:
                    with model.lock:
                        result = model.predict(str(path), conf=conf, iou=iou, device=device, verbose=False, **size)[0]
                    picture, names = result.plot(), result.names
                    found = (result.boxes.xyxy.tolist(), result.boxes.conf.tolist(), result.boxes.cls.tolist())
                    extra = {}
                else:
                    picture, names, found, extra = _sliced(model, path, slicing, imgsz, weights, conf=conf, iou=iou, device=device)
            except UserError:
                raise
            except Exception as exc:
                raise UserError(f"{path.name}: could not run prediction ({type(exc).__name__}: {no_paths(plain(exc), path)})") from None
            cv2.imwrite(str(annotated), picture)
            detections = [
                {"class": names[int(c)], "class_id": int(c), "confidence": round(float(s), 4), "box": [round(float(v), 1) for v in xyxy]}
                for xyxy, s, c in zip(*found)
            ]
            images.append({"image": str(path), "annotated": str(annotated), "detections": detections, **extra})
    return {"weights": str(weights), "dir": str(out_dir), "images": images, **({"sliced": slicing.__dict__} if slicing else {})}


def _sliced(model, path: Path, slicing, imgsz: int | None, weights: Path, **predict_args) -> tuple:
    """One image predicted tile by tile: (picture drawn, names, (xyxy, scores, classes), {"tiles": N})."""
    from yolov11.compat.results import plotted

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"{path.name}: not a readable image")
    with model.lock:  # tiles in batches for a .pt model; an export's input may be a fixed shape of one
        xyxy, scores, classes, tiles = detect_sliced(model, image, slicing, imgsz, batch=tile_batch(weights),
                                                     **predict_args)
    names = model.names
    return plotted(image, names, xyxy, scores, classes), names, (xyxy.tolist(), scores.tolist(), classes.tolist()), {"tiles": tiles}
