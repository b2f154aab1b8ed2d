"""A video file from a stranger, read within caps: what its header says (``probe``) and its frames
(``Frames``), for ``yolov11.predict_video``. Decoded with PyAV (its wheel bundles FFmpeg).

Caps, each refused with a one-line UserError naming the file by its name only (never a server
path: FFmpeg's and the OS's messages carry the full path, so their text is cleaned): the suffix
(VIDEO_SUFFIXES), the file size (MAX_BYTES), the duration (MAX_SECONDS), the frames (MAX_FRAMES),
and the pixels of a frame (MAX_FRAME_PIXELS, as an image import refuses pixel bombs), all before
any frame is run. Duration, frame count and frame size are checked again while decoding: a header
may lie.

A frame that grows past the pixel cap after the header (three 64x64 JPEG frames, then one of
16000x16000) is refused by FFmpeg itself before it allocates the frame: its decoder's
``max_pixels`` option, also set for the frames FFmpeg decodes while opening the file. FFmpeg's
frame threads drop such a frame without a word instead of failing, so they are off (slice threads
stay; decoding costs little beside the detector).

A file cut short is read up to where it breaks: ``Frames.cut_short`` says so (the last packet
could not be decoded or read, and nothing follows it), and ``ends_early`` words the shortfall
against the header's count. A frame that cannot be decoded with more of the file after it is a
broken file, refused.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterator

from yolov11.errors import UserError, plain
from yolov11.serve.predict import no_paths

VIDEO_SUFFIXES = {".mp4", ".webm", ".mov"}
MAX_BYTES = 200 * 1024 * 1024  # 200 MB
MAX_SECONDS = 60.0
MAX_FRAMES = 3600  # 60 s at 60 fps
MAX_FRAME_PIXELS = 3840 * 2160  # 4K UHD: beyond that a "clip" is a decompression bomb, not CCTV
ESTIMATE_SLACK = 0.01  # a count estimated from duration x rate may be this far off (and a frame) without "ends early"
_DECODER = {"max_pixels": str(MAX_FRAME_PIXELS)}  # FFmpeg refuses a larger frame before allocating it


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def why(exc: BaseException, path: Path) -> str:
    """A library's error about ``path`` as one plain line naming no server path."""
    text = getattr(exc, "strerror", None) or str(exc)  # an FFmpegError's or OSError's text leaves its file name out
    return no_paths(plain(text), path)


def open_video(path: Path):
    """The file opened for reading (a PyAV container), or a UserError naming it."""
    import av

    try:
        return av.open(str(path), metadata_errors="ignore", options=_DECODER)
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise UserError(f"{path.name}: not a readable video ({why(exc, path)})") from None


def _rate(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0 or rate > 1000:
        return Fraction(25)
    return Fraction(rate).limit_denominator(1001)


def probe(source: str | Path) -> dict:
    """What the video's header says (fps, frames, frames_exact, duration_s, width, height), after
    the caps; a UserError naming the file for anything refused. ``frames_exact``: the container
    counts its frames (else ``frames`` is estimated from the duration)."""
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
    with open_video(path) as container:
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
        exact = bool(stream.frames)
    check_frame(path, width, height)
    if duration > MAX_SECONDS:
        raise UserError(f"{path.name}: {duration:.0f} s long, over the {MAX_SECONDS:.0f} s limit for a video (cut it shorter)")
    if frames > MAX_FRAMES:
        raise UserError(f"{path.name}: {frames} frames, over the {MAX_FRAMES} frame limit for a video")
    return {"fps": fps, "frames": frames, "frames_exact": exact, "duration_s": duration, "width": width, "height": height}


def check_frame(path: Path, width: int, height: int) -> None:
    if width * height > MAX_FRAME_PIXELS:
        raise UserError(f"{path.name}: {width}x{height} frames exceed the cap of {MAX_FRAME_PIXELS:,} pixels a frame (4K)")
    if width < 2 or height < 2:
        raise UserError(f"{path.name}: {width}x{height} frames are too small to be a video")


def ends_early(info: dict, decoded: int, cut_short: bool) -> str | None:
    """The warning for a file that gave fewer frames than its header promised, else None."""
    promised = info["frames"]
    slack = 0 if info["frames_exact"] else max(1, round(promised * ESTIMATE_SLACK))
    if cut_short or decoded < promised - slack:
        return f"the file ends early: {decoded} of {max(promised, decoded + 1)} frames"
    return None


class Frames:
    """The video stream's decoded frames, in order, each within the caps; iterate once.

    Raises UserError naming the file for a frame over the pixel cap (refused before it is
    decoded) and for a frame that cannot be decoded with more of the file after it. A file that
    breaks off (the last packet cannot be decoded or read) ends the frames with ``cut_short``
    set, after the frames the decoder still holds."""

    def __init__(self, container, path: Path):
        self.path = path
        self.stream = container.streams.video[0]
        self.stream.codec_context.options = dict(_DECODER)  # read when the decoder opens, at the first packet
        self.stream.thread_type = "SLICE"  # not FRAME: frame threads drop an over-cap frame silently
        self.packets = container.demux(self.stream)
        self.decoded = 0
        self.cut_short = False

    def __iter__(self) -> Iterator:
        import av

        while True:
            try:
                packet = next(self.packets)
            except StopIteration:
                return
            except av.FFmpegError:  # the container breaks off: keep what came before
                self.cut_short = True
                yield from self._drain()
                return
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                self._refuse_if_over_cap(exc)
                if self._more_follows():
                    raise UserError(f"{self.path.name}: could not decode frame {self.decoded + 1} ({why(exc, self.path)})") from None
                self.cut_short = True  # the file ends inside this frame
                yield from self._drain()
                return
            for frame in frames:
                self.decoded += 1
                yield frame

    def _refuse_if_over_cap(self, exc) -> None:
        """FFmpeg refused a frame over max_pixels: say so. Its H.264 decoder leaves the frame's
        size in the context; the JPEG and VP9 ones reset it and fail with EINVAL."""
        import av

        ctx = self.stream.codec_context
        frame = f"frame {self.decoded + 1}"
        if ctx.width * ctx.height > MAX_FRAME_PIXELS:
            raise UserError(
                f"{self.path.name}: {frame} is {ctx.width}x{ctx.height}, over the cap of {MAX_FRAME_PIXELS:,} pixels a frame (4K)"
            ) from None
        if isinstance(exc, av.ArgumentError):
            raise UserError(
                f"{self.path.name}: {frame} is over the cap of {MAX_FRAME_PIXELS:,} pixels a frame (4K), or its size is broken"
            ) from None

    def _more_follows(self) -> bool:
        """Whether the file holds more of the stream after the packet that failed."""
        import av

        try:
            return any(p.size for p in self.packets)
        except av.FFmpegError:
            return False

    def _drain(self) -> Iterator:
        """The frames the decoder still holds (reordering delay) once the packets end early."""
        import av

        try:
            frames = self.stream.codec_context.decode(None)
        except av.FFmpegError:
            return
        for frame in frames:
            self.decoded += 1
            yield frame
