"""Predict on a short video: objects tracked across frames (Ultralytics' ByteTrack), drawn on an
annotated copy that plays in a browser, counted per class, and listed frame by frame.

The video is decoded and encoded with PyAV (its wheel bundles FFmpeg with libx264), so nothing
beyond the Python packages is needed; what a file from a stranger may be (caps, frames that grow
after the header, a file cut short) is video_file's. The annotated copy is H.264 (yuv420p, even
sides) in an .mp4 with its index at the front (``movflags=faststart``), which Chromium starts
playing before it has the whole file.

A video keeps state from frame to frame (the tracker), so each call loads a detector of its own
rather than the shared cached one, and one video at a time runs per model file: a second call on
the same weights while one runs is refused (not queued), so a busy /demo page says so at once.
Small objects: with ``sliced=`` each frame is predicted tile by tile (``serve/sliced.py``) and the
merged boxes go to the same tracker (``compat.tracking``: ByteTrack fed our own detections, as
``YOLO.track`` feeds it a one-pass prediction; both paths go through it). The work is tiles per
frame times frames: a ``Slicing.max_video_tiles`` cap (the /demo page's) refuses a clip that
would cost more, at its first frame, before minutes of work start.
A caller that goes away stops it through ``stop`` (a threading.Event, looked at before each
frame): the call raises a UserError, releases the model and leaves nothing in predictions/. Its
folder there is marked in flight meanwhile, so no other call's pruning removes it.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Callable

from yolov11 import checkpoints
from yolov11.errors import UserError, plain
from yolov11.serve.predict import call_folder, checked_weights, fresh_detector, no_paths, one_device
from yolov11.serve.sliced import Slicing, detect_sliced, found_boxes, slicing_of, tile_batch
from yolov11.serve.video_file import MAX_FRAMES, MAX_SECONDS, VIDEO_SUFFIXES, Frames, check_frame, ends_early, open_video, probe
from yolov11.training.settings import trained_imgsz
from yolov11.workspace import Workspace

__all__ = ["VIDEO_SUFFIXES", "predict_video", "probe"]  # the caps live in video_file

PROGRESS_EVERY = 5  # frames between progress reports
CODEC, CONTAINER_SUFFIX = "libx264", ".mp4"
_RUNNING: dict[str, threading.Lock] = {}  # resolved weights path -> held while a video runs on it
_RUNNING_GUARD = threading.Lock()

Progress = Callable[[float, str], None]


def _model_lock(weights: Path) -> threading.Lock:
    key = str(weights.resolve())
    with _RUNNING_GUARD:
        return _RUNNING.setdefault(key, threading.Lock())


def predict_video(
    weights: str | Path,
    source: str | Path,
    *,
    conf: float = 0.25,
    imgsz: int | None = None,
    device: str | None = None,
    workspace: Workspace | str | Path | None = None,
    trust_weights: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    sliced: object = None,
    slice_size: int | None = None,
    slice_overlap: float | None = None,
) -> dict:
    """Track objects through the video ``source`` (.mp4, .webm, .mov) with ``weights`` (what
    predict loads). The annotated copy goes to ``predictions/<call>/<stem>.mp4``. Returns (JSON-ready)::

        {"source", "weights", "video", "dir", "codec", "conf", "fps", "frames", "duration_s",
         "width", "height", "counts": {class: distinct tracks}, "tracks": [{"id", "class",
         "first_frame", "last_frame", "frames"}], "per_frame": [{"frame", "t", "detections":
         [{"class", "confidence", "box": [x1, y1, x2, y2], "track"}]}], "warning"}
        (+ "sliced": the Slicing's settings, "tiles": tiles per frame, when sliced)

    ``width``/``height``/``fps``/``frames``/``duration_s`` are the annotated video's (an odd side
    loses its last pixel row or column); ``t`` is the frame's time in the source, in seconds.
    ``warning``: None, or a sentence such as "the file ends early: 30 of 50 frames" (a file cut
    short is tracked up to where it breaks). ``progress(fraction, message)`` is called every few
    frames. ``stop``: once set, the call ends before its next frame with a UserError, leaving
    nothing behind. One video at a time per model file. ``sliced``/``slice_size``/``slice_overlap``:
    as ``predict``'s, each frame tile by tile (a ``Slicing`` with ``max_video_tiles`` caps tiles x frames).
    """
    if not 0.0 <= conf <= 1.0:
        raise UserError(field="--conf", value=conf, detail="must be between 0 and 1")
    slicing = slicing_of(sliced, slice_size, slice_overlap)
    device = one_device(device)
    ws = Workspace.at(workspace)
    source = Path(source).expanduser()
    info = probe(source)
    weights = checked_weights(weights)
    if trust_weights and weights.suffix == ".pt":
        checkpoints.trust(weights)
    lock = _model_lock(weights)
    if not lock.acquire(blocking=False):
        raise UserError(f"{weights.name}: a video is already running on that model; try again when it has finished")
    try:
        model = fresh_detector(weights)  # its own predictor: the tracker's state stays with this video
        if imgsz is None and weights.suffix == ".pt":
            imgsz = trained_imgsz(model.ckpt.get("train_args", {}))
        detector = _Detector(model, {"conf": conf, "device": device}, imgsz, slicing, tile_batch(weights), source.name, info["frames"])
        with call_folder(ws, "video-") as out_dir:  # removed if anything below fails or is stopped
            dest = out_dir / f"{source.stem}{CONTAINER_SUFFIX}"
            per_frame, shape, warning = _track(detector, source, dest, info, progress, stop)
        result = _summary(per_frame, shape, info["fps"])
        return {
            "source": str(source), "weights": str(weights), "video": str(dest), "dir": str(out_dir), "codec": "h264", "conf": conf,
            **result, "warning": warning, **({"sliced": slicing.__dict__, "tiles": detector.tiles} if slicing else {}),
        }
    finally:
        lock.release()


def _track(detector: _Detector, source: Path, dest: Path, info: dict, progress: Progress | None,
           stop: threading.Event | None) -> tuple[list[dict], tuple[int, int], str | None]:
    """Decode, track, draw and encode frame by frame; returns the per-frame detections, the
    annotated video's (width, height) and the warning (None, or a file that ends early)."""
    import av

    fps = info["fps"]
    expected = max(info["frames"], 1)
    per_frame: list[dict] = []
    width = height = 0
    with open_video(source) as container, av.open(str(dest), "w", options={"movflags": "+faststart"}) as out:
        frames = Frames(container, source)
        stream_out = None
        start = None
        for frame in frames:
            i = len(per_frame)
            if stop is not None and stop.is_set():
                raise UserError(f"{source.name}: stopped at frame {i + 1} of {max(expected, i + 1)}; nothing was kept")
            check_frame(source, frame.width, frame.height)
            t = float(frame.time) if frame.time is not None else i / float(fps)
            start = t if start is None else start
            if i >= MAX_FRAMES or t - start > MAX_SECONDS:
                raise UserError(
                    f"{source.name}: longer than its header says, over the {MAX_SECONDS:.0f} s / {MAX_FRAMES} frame limit for a video"
                )
            if stream_out is None:
                width, height = frame.width - frame.width % 2, frame.height - frame.height % 2
                stream_out = out.add_stream(CODEC, rate=fps)
                stream_out.width, stream_out.height, stream_out.pix_fmt = width, height, "yuv420p"
                stream_out.time_base = 1 / fps
                stream_out.options = {"preset": "veryfast", "crf": "23"}
            bgr = frame.to_ndarray(format="bgr24")
            found, drawn = detector(bgr, i, t - start)
            per_frame.append(found)
            drawn = drawn[:height, :width]
            encoded = av.VideoFrame.from_ndarray(drawn, format="bgr24")
            encoded.pts = i
            out.mux(stream_out.encode(encoded))
            if progress and (i + 1) % PROGRESS_EVERY == 0:
                progress(min((i + 1) / expected, 1.0), f"frame {i + 1} of {max(expected, i + 1)}")
        if stream_out is None:
            raise UserError(f"{source.name}: no frame could be decoded")
        out.mux(stream_out.encode(None))
    if progress:
        progress(1.0, f"{len(per_frame)} frames done")
    return per_frame, (width, height), ends_early(info, len(per_frame), frames.cut_short)


class _Detector:
    """One frame at a time: predicted (in one pass, or tile by tile), tracked and drawn."""

    def __init__(self, model, args: dict, imgsz: int | None, slicing: Slicing | None, batch: int, name: str, frames: int):
        from yolov11.compat import tracking

        self.model, self.args, self.imgsz, self.slicing, self.batch = model, args, imgsz, slicing, batch
        self.name, self.frames = name, max(frames, 1)
        self.tracker = tracking.byte_tracker()
        self.tiles = 0  # tiles per frame, learnt at the first (the frames of a video share their size)

    def __call__(self, bgr, index: int, t: float) -> tuple[dict, object]:
        """The frame's detections with track ids, and the frame drawn (BGR)."""
        from yolov11.compat import tracking
        from yolov11.compat.results import plotted

        try:
            if self.slicing is None:
                found = found_boxes(self.model.predict(bgr, verbose=False, **self.args, **({"imgsz": self.imgsz} if self.imgsz else {}))[0])
            else:
                *found, self.tiles = detect_sliced(self.model, bgr, self.slicing, self.imgsz, batch=self.batch, **self.args)
                self._within_cap(index)
            xyxy, ids, scores, classes = tracking.update(self.tracker, bgr, *found)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"frame {index + 1}: could not run prediction ({type(exc).__name__}: {no_paths(plain(exc))})") from None
        names = self.model.names
        detections = [
            {"class": names[int(c)], "confidence": round(float(s), 4), "box": [round(float(v), 1) for v in box], "track": int(track)}
            for box, track, s, c in zip(xyxy.tolist(), ids.tolist(), scores.tolist(), classes.tolist())
        ]
        return {"frame": index, "t": round(t, 4), "detections": detections}, plotted(bgr, names, xyxy, scores, classes, ids=ids)

    def _within_cap(self, index: int) -> None:
        """Tiles x frames under the Slicing's ``max_video_tiles``: checked at the first frame with
        the frames the header announces, then as frames come (a header may say fewer)."""
        cap = self.slicing.max_video_tiles
        planned = max(self.tiles, 1) * max(self.frames, index + 1)
        if cap is not None and planned > cap:
            raise UserError(f"{self.name}: this video would be looked at in {planned} pieces ({max(self.tiles, 1)} per frame), "
                            f"more than this page does ({cap}): try it without small objects, or a shorter clip")


def _summary(per_frame: list[dict], shape: tuple[int, int], fps: Fraction) -> dict:
    seen: dict[int, list] = defaultdict(list)  # track id -> (frame, class) of each detection
    for f in per_frame:
        for d in f["detections"]:
            if d["track"] is not None:
                seen[d["track"]].append((f["frame"], d["class"]))
    tracks = []
    for track_id, hits in sorted(seen.items()):
        name = Counter(c for _, c in hits).most_common(1)[0][0]  # a track whose class flickers counts once, as its usual class
        tracks.append({"id": track_id, "class": name, "first_frame": hits[0][0], "last_frame": hits[-1][0], "frames": len(hits)})
    counts = dict(sorted(Counter(t["class"] for t in tracks).items()))
    n = len(per_frame)
    return {
        "fps": round(float(fps), 3),
        "frames": n,
        "duration_s": round(n / float(fps), 3),
        "width": shape[0],
        "height": shape[1],
        "counts": counts,
        "tracks": tracks,
        "per_frame": per_frame,
    }
