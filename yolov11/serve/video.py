"""Predict on a short video: objects tracked across frames (Ultralytics' ByteTrack), drawn on an
annotated copy that plays in a browser, counted per class, and listed frame by frame.

The video is decoded and encoded with PyAV (its wheel bundles FFmpeg with libx264), so nothing
beyond the Python packages is needed. The annotated copy is H.264 (yuv420p, even sides) in an
.mp4 with its index at the front (``movflags=faststart``), which Chromium starts playing before
it has the whole file.

Caps, each refused with a one-line UserError naming the file before any frame is run: the suffix
(VIDEO_SUFFIXES), the file size (MAX_BYTES), the duration (MAX_SECONDS), the frames
(MAX_FRAMES), and the pixels of a frame (MAX_FRAME_PIXELS: as an image import refuses pixel
bombs). Duration, frame count and frame size are checked again while decoding: a header may lie.

A video keeps state from frame to frame (the tracker), so each call loads a detector of its own
rather than the shared cached one, and one video at a time runs per model file: a second call on
the same weights while one runs is refused (not queued), so a busy /demo page says so at once.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Callable

from yolov11 import checkpoints
from yolov11.errors import UserError, plain
from yolov11.serve.predict import KEEP_PREDICTIONS, _prune, checked_weights, fresh_detector, one_device
from yolov11.training.settings import trained_imgsz
from yolov11.workspace import Workspace

VIDEO_SUFFIXES = {".mp4", ".webm", ".mov"}
MAX_BYTES = 200 * 1024 * 1024  # 200 MB
MAX_SECONDS = 60.0
MAX_FRAMES = 3600  # 60 s at 60 fps
MAX_FRAME_PIXELS = 3840 * 2160  # 4K UHD: beyond that a "clip" is a decompression bomb, not CCTV
PROGRESS_EVERY = 5  # frames between progress reports
TRACKER = "bytetrack.yaml"  # Ultralytics' ByteTrack settings, shipped in its package
CODEC, CONTAINER_SUFFIX = "libx264", ".mp4"
_RUNNING: dict[str, threading.Lock] = {}  # resolved weights path -> held while a video runs on it
_RUNNING_GUARD = threading.Lock()

Progress = Callable[[float, str], None]


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def _open(path: Path):
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise UserError(f"{path.name}: not a readable video ({plain(exc)})") from None


def _rate(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0 or rate > 1000:
        return Fraction(25)
    return Fraction(rate).limit_denominator(1001)


def probe(source: str | Path) -> dict:
    """What the video's header says (fps, frames, duration_s, width, height), after the caps;
    a UserError naming the file for anything this module refuses."""
    path = Path(source).expanduser()
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UserError(f"{path.name}: not a video this app takes (use {', '.join(sorted(VIDEO_SUFFIXES))})")
    if not path.is_file():
        raise UserError(f"{path.name}: no such file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise UserError(f"{path.name}: {_megabytes(size)} is over the {_megabytes(MAX_BYTES)} limit for a video")
    if size == 0:
        raise UserError(f"{path.name}: the file is empty")
    with _open(path) as container:
        if not container.streams.video:
            raise UserError(f"{path.name}: holds no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = _rate(stream)
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = stream.frames or round(duration * fps)
    _check_frame(path, width, height)
    if duration > MAX_SECONDS:
        raise UserError(f"{path.name}: {duration:.0f} s long, over the {MAX_SECONDS:.0f} s limit for a video (cut it shorter)")
    if frames > MAX_FRAMES:
        raise UserError(f"{path.name}: {frames} frames, over the {MAX_FRAMES} frame limit for a video")
    return {"fps": fps, "frames": frames, "duration_s": duration, "width": width, "height": height}


def _check_frame(path: Path, width: int, height: int) -> None:
    if width * height > MAX_FRAME_PIXELS:
        raise UserError(f"{path.name}: {width}x{height} frames exceed the cap of {MAX_FRAME_PIXELS:,} pixels a frame (4K)")
    if width < 2 or height < 2:
        raise UserError(f"{path.name}: {width}x{height} frames are too small to be a video")


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
) -> dict:
    """Track objects through the video ``source`` (.mp4, .webm, .mov) with ``weights`` (what
    predict loads). The annotated copy goes to ``predictions/<call>/<stem>.mp4``. Returns (JSON-ready)::

        {"source", "weights", "video", "dir", "codec", "conf", "fps", "frames", "duration_s",
         "width", "height", "counts": {class: distinct tracks}, "tracks": [{"id", "class",
         "first_frame", "last_frame", "frames"}], "per_frame": [{"frame", "t", "detections":
         [{"class", "confidence", "box": [x1, y1, x2, y2], "track"}]}]}

    ``width``/``height``/``fps``/``frames``/``duration_s`` are the annotated video's (an odd side
    loses its last pixel row or column); ``t`` is the frame's time in the source, in seconds.
    ``progress(fraction, message)`` is called every few frames. One video at a time per model file.
    """
    if not 0.0 <= conf <= 1.0:
        raise UserError(f"--conf {conf}: must be between 0 and 1")
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
    out_dir = None
    try:
        model = fresh_detector(weights)  # its own predictor: the tracker's state stays with this video
        if imgsz is None and weights.suffix == ".pt":
            imgsz = trained_imgsz(model.ckpt.get("train_args", {}))
        _prune(ws.predictions_dir, KEEP_PREDICTIONS - 1)
        out_dir = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-video-"), dir=ws.predictions_dir))
        dest = out_dir / f"{source.stem}{CONTAINER_SUFFIX}"
        args = {"conf": conf, "device": device, "verbose": False, **({"imgsz": imgsz} if imgsz else {})}
        per_frame, shape = _track(model, source, dest, info, args, progress)
        result = _summary(per_frame, shape, info["fps"])
        return {"source": str(source), "weights": str(weights), "video": str(dest), "dir": str(out_dir), "codec": "h264", "conf": conf, **result}
    except BaseException:
        if out_dir is not None:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        lock.release()


def _track(model, source: Path, dest: Path, info: dict, args: dict, progress: Progress | None) -> tuple[list[dict], tuple[int, int]]:
    """Decode, track, draw and encode frame by frame; returns the per-frame detections and the
    annotated video's (width, height)."""
    import av

    fps = info["fps"]
    expected = max(info["frames"], 1)
    per_frame: list[dict] = []
    width = height = 0
    with _open(source) as container, av.open(str(dest), "w", options={"movflags": "+faststart"}) as out:
        stream_in = container.streams.video[0]
        stream_in.thread_type = "AUTO"
        stream_out = None
        start = None
        try:
            for frame in container.decode(stream_in):
                i = len(per_frame)
                _check_frame(source, frame.width, frame.height)
                t = float(frame.time) if frame.time is not None else i / float(fps)
                start = t if start is None else start
                if i >= MAX_FRAMES or t - start > MAX_SECONDS:
                    raise UserError(f"{source.name}: longer than its header says, over the {MAX_SECONDS:.0f} s / {MAX_FRAMES} frame limit for a video")
                if stream_out is None:
                    width, height = frame.width - frame.width % 2, frame.height - frame.height % 2
                    stream_out = out.add_stream(CODEC, rate=fps)
                    stream_out.width, stream_out.height, stream_out.pix_fmt = width, height, "yuv420p"
                    stream_out.time_base = 1 / fps
                    stream_out.options = {"preset": "veryfast", "crf": "23"}
                bgr = frame.to_ndarray(format="bgr24")
                found, drawn = _detect(model, bgr, i, t - start, args)
                per_frame.append(found)
                drawn = drawn[:height, :width]
                encoded = av.VideoFrame.from_ndarray(drawn, format="bgr24")
                encoded.pts = i
                out.mux(stream_out.encode(encoded))
                if progress and (i + 1) % PROGRESS_EVERY == 0:
                    progress(min((i + 1) / expected, 1.0), f"frame {i + 1} of {max(expected, i + 1)}")
        except av.FFmpegError as exc:
            raise UserError(f"{source.name}: could not decode frame {len(per_frame) + 1} ({plain(exc)})") from None
        if stream_out is None:
            raise UserError(f"{source.name}: no frame could be decoded")
        out.mux(stream_out.encode(None))
    if progress:
        progress(1.0, f"{len(per_frame)} frames done")
    return per_frame, (width, height)


def _detect(model, bgr, index: int, t: float, args: dict) -> tuple[dict, object]:
    """One frame through the tracker: its detections with track ids, and the frame drawn (BGR)."""
    try:
        result = model.track(bgr, persist=True, tracker=TRACKER, **args)[0]
    except Exception as exc:
        raise UserError(f"frame {index + 1}: could not run prediction ({type(exc).__name__}: {plain(exc)})") from None
    boxes = result.boxes
    ids = boxes.id.int().tolist() if boxes.id is not None else [None] * len(boxes)
    detections = [
        {"class": result.names[int(c)], "confidence": round(float(s), 4), "box": [round(float(v), 1) for v in xyxy], "track": track}
        for c, s, xyxy, track in zip(boxes.cls.tolist(), boxes.conf.tolist(), boxes.xyxy.tolist(), ids)
    ]
    return {"frame": index, "t": round(t, 4), "detections": detections}, result.plot()


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
