"""What a request may bring into the app, enforced while it is received (an ASGI middleware).

Gradio takes every file through one route (POST /gradio_api/upload, multipart) and stores it in
the app's upload folder as it arrives; a component's own cap (the video's 200 MB) is checked only
later, by the event that uses the file. So ``UploadGuard`` reads each request body as it streams
in, before Gradio's route does, with the same multipart parser (python_multipart), and stops it
the moment it passes a limit:

- **a file by its suffix** (``UploadLimits``: images, videos, weights, dataset zips, anything
  else): a part over its cap is refused with HTTP 413 and one line naming the file and the cap;
- **a plain form field** over 1 MiB (Starlette's own default for a field; Gradio has none);
- **the upload folder's quota** (``<workspace>/.uploads/``, all app processes): an upload that
  would take the folder past it is refused with HTTP 507. ``FolderUsage`` keeps a running total:
  what a walk of the folder found (redone every few seconds, in a thread), plus what this process
  has stored since, plus what is arriving now;
- **any other request body** (event calls are JSON; Gradio decodes a ``data:`` URL image in one
  into the upload folder) is capped as a file of "anything else", and past its first MiB it
  counts toward the quota (so a full folder never stops the ordinary small calls);
- ``/gradio_api/process_recording`` (Gradio's webcam-recording route, which leaves its temporary
  files behind) is refused: no component of this app records.

A refused request is answered at once; the rest of its body is discarded by the server, never
stored. The refusal is raised into the app's own reading of the body as a ``MultiPartException``:
that is what makes Gradio's multipart parser close and delete the temporary files of that request
(the part cut short and any before it). A client that goes away mid-upload is treated the same
way, so an abandoned upload leaves no partial file either. The answer the app gives afterwards is
dropped: the client has ours.

Relies on (Gradio 6): its multipart parser deleting its temporary files when reading the body
raises ``starlette.formparsers.MultiPartException``; temporary files of an upload in progress
lying at the top of the process's upload folder (finished ones go into ``<hash>/<name>``).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.formparsers import MultiPartException

KB, MB, GB, TB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
FIELD_CAP = 1 * MB  # a plain form field (Starlette's default max_part_size)
SMALL_BODY = 1 * MB  # a request body up to this size never counts toward the quota (every event call sends one)
UPLOAD_ROUTE = "/gradio_api/upload"
RECORDING_ROUTE = "/gradio_api/process_recording"

# Each kind of file, by suffix (lower case). Broad on purpose: the component or the core that
# uses a file refuses a suffix it cannot read; these only say how large it may be.
KINDS = {
    "image": {".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".webp", ".tif", ".tiff",
              ".gif", ".heic", ".heif", ".avif", ".jp2", ".ico", ".svg"},
    "video": {".mp4", ".webm", ".mov", ".m4v", ".avi", ".mkv", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv", ".3gp", ".ts", ".mts", ".m2ts"},
    "weights": {".pt", ".pth", ".onnx", ".torchscript"},
    "zip": {".zip"},
}
NOUNS = {"image": "an image", "video": "a video", "weights": "a weights file", "zip": "a dataset zip", "other": "a file of this kind"}


@dataclass(frozen=True)
class UploadLimits:
    """Caps in bytes, each a setting of app.py (FLAGS). ``other``: files of any other suffix (a
    model YAML: the core reads at most 1 MiB of one) and request bodies that are not uploads."""

    image: int = 50 * MB  # a 100-megapixel JPEG (the importer's pixel cap) is 20-50 MB
    video: int = 1 * GB
    weights: int = 1 * GB
    zip: int = 20 * GB
    other: int = 50 * MB
    quota: int = 25 * GB  # the whole upload folder, all app processes

    def kind(self, filename: str) -> str:
        suffix = Path(filename).suffix.lower()
        return next((kind for kind, suffixes in KINDS.items() if suffix in suffixes), "other")

    def largest(self) -> int:
        return max(self.image, self.video, self.weights, self.zip, self.other)


FLAGS = {
    "image": "--max-upload-image",
    "video": "--max-upload-video",
    "weights": "--max-upload-weights",
    "zip": "--max-upload-zip",
    "other": "--max-upload-other",
    "quota": "--upload-quota",
}
HELP = {
    "image": "largest photo upload (default 50MB)",
    "video": "largest video upload (default 1GB; Predict and /demo then take videos up to 200 MB)",
    "weights": "largest .pt/.onnx/.torchscript upload (default 1GB)",
    "zip": "largest dataset zip upload (default 20GB)",
    "other": "largest upload of any other kind, and largest request body (default 50MB)",
    "quota": "room for all uploads in <workspace>/.uploads, all app processes together (default 25GB)",
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.I)


def parse_size(text: str, flag: str = "size") -> int:
    """"50MB", "1GB", "1.5 GB", "20gb", "512KiB", "1000" (bytes) -> bytes (binary units: 1 MB is
    1024 KB, as the video cap's 200 MB). A UserError naming the flag otherwise."""
    from yolov11 import UserError  # here: app.py reads FLAGS before the workspace is set, and so before yolov11

    match = _SIZE.match(str(text))
    if not match:
        raise UserError(f"{flag} {text}: not a size (a number and a unit, e.g. 50MB, 1GB, 512KB)")
    number, unit = float(match.group(1)), match.group(2).lower()
    if not match.group(2) and "." in match.group(1):
        raise UserError(f"{flag} {text}: a number of bytes must be whole (or give a unit, e.g. 1.5GB)")
    return int(number * {"": 1, "k": KB, "m": MB, "g": GB, "t": TB}[unit])


def limits_from(values: dict) -> UploadLimits:
    """UploadLimits from {"image": "50MB", ...} (app.py's flags; None keeps the default)."""
    given = {f.name: parse_size(values[f.name], FLAGS[f.name]) for f in fields(UploadLimits) if values.get(f.name) is not None}
    return UploadLimits(**given)


def human(n: int) -> str:
    """Bytes as the flags write them: 50 MB, 1 GB, 1.5 GB, 10 KB, 100 B."""
    for unit, size in (("TB", TB), ("GB", GB), ("MB", MB), ("KB", KB)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} B"


def _shown(name: str) -> str:
    """A client's file name for a one-line message: printable, no markup, not too long."""
    name = re.sub(r"[^\w .,()+@#=~-]", "_", Path(name.replace("\\", "/")).name)[:80]
    return name or "the file"


class Refused(MultiPartException):
    """A request stopped by a limit (``status``: the answer's HTTP status; 0: the client left,
    nobody to answer). Raised into the app's reading of the body: a MultiPartException, so
    Gradio's multipart parser deletes that request's temporary files."""

    def __init__(self, status: int, message: str):
        super().__init__(message)  # sets .message (Starlette's MultiPartException keeps no args)
        self.args, self.status = (message,), status


class FolderUsage:
    """Bytes in the upload folder (all app processes), cheaply: the last walk's total (redone at
    most every ``refresh_s``, in a thread), plus bodies this process has stored since that walk
    began, plus bodies arriving now. Files being written by this process's uploads in progress
    (at the top of ``own``) are left out of the walk: they are counted as arriving."""

    def __init__(self, folder: Path, own: Path | None = None, refresh_s: float = 5.0):
        self.folder, self.own, self.refresh_s = Path(folder), Path(own) if own else None, refresh_s
        self.walked, self.walk_began = 0, float("-inf")
        self.arriving = 0
        self.stored: list[tuple[float, int]] = []  # (when, bytes) stored by this process since
        self._lock = threading.Lock()
        self._walk: asyncio.Future | None = None

    def measure(self) -> int:
        """Bytes in the folder now (a walk; this process's uploads in progress left out)."""
        total = 0
        stack = [self.folder]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:  # removed meanwhile
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False) and not (self.own and folder == self.own):
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
        return total

    def _walk_now(self) -> None:
        began = time.monotonic()
        size = self.measure()
        with self._lock:
            self.walked, self.walk_began = size, began
            self.stored = [(t, n) for t, n in self.stored if t >= began]

    async def refresh(self, max_age_s: float | None = None, wait: bool = False) -> None:
        """Walk again if the last walk began more than ``max_age_s`` (default refresh_s) ago; one
        walk at a time. ``wait``: until it is done (always, before the first walk has ended)."""
        if time.monotonic() - self.walk_began > (self.refresh_s if max_age_s is None else max_age_s):
            if self._walk is None or self._walk.done():
                self._walk = asyncio.ensure_future(asyncio.to_thread(self._walk_now))
        if self._walk is not None and not self._walk.done() and (wait or self.walk_began == float("-inf")):
            await asyncio.shield(self._walk)

    def total(self) -> int:
        with self._lock:
            return self.walked + sum(n for _, n in self.stored) + self.arriving

    def arrive(self, n: int) -> None:
        with self._lock:
            self.arriving += n

    def settle(self, n: int, stored: bool) -> None:
        """A body of ``n`` counted bytes has ended; ``stored``: it is now in the folder."""
        with self._lock:
            self.arriving -= n
            if stored and n:
                self.stored.append((time.monotonic(), n))


class _PartMeter:
    """Counts each part of a multipart body as it streams in, against its cap."""

    def __init__(self, boundary: bytes, limits: UploadLimits):
        self.limits = limits
        self._name, self._value, self._disposition = b"", b"", b""
        self._cap, self._size, self._what = 0, 0, ""
        callbacks = {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._add("_name", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
        }
        self.parser = MultipartParser(boundary, callbacks)

    def _add(self, attr: str, data: bytes) -> None:
        setattr(self, attr, getattr(self, attr) + data)
        if len(self._name) + len(self._value) > 16 * KB:  # Gradio's parser refuses headers over 8 KB anyway
            raise Refused(400, "a multipart part's headers are too long")

    def _begin(self) -> None:
        self._disposition, self._size = b"", 0

    def _header_end(self) -> None:
        if self._name.strip().lower() == b"content-disposition":
            self._disposition = self._value
        self._name, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"filename" in options:
            filename = options[b"filename"].decode("utf-8", "replace")
            kind = self.limits.kind(filename)
            self._cap = getattr(self.limits, kind)
            self._what = f"{_shown(filename)}: over the {human(self._cap)} limit for {NOUNS[kind]} here ({FLAGS[kind]})"
        else:
            field = options.get(b"name", b"").decode("utf-8", "replace")
            self._cap = FIELD_CAP
            self._what = f"form field {_shown(field)!r}: over the {human(FIELD_CAP)} limit for a form field"

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._size > self._cap:
            raise Refused(413, self._what)

    def feed(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except Refused:
            raise
        except Exception as exc:  # a malformed body: Gradio's parser would refuse it too
            raise Refused(400, f"not a readable multipart body ({exc})") from None


class _BodyMeter:
    """Counts a whole request body against one cap."""

    def __init__(self, cap: int, what: str):
        self.cap, self.what, self.size = cap, what, 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.cap:
            raise Refused(413, self.what)


def _header(scope, name: bytes) -> bytes:
    return next((v for k, v in scope.get("headers") or [] if k.lower() == name), b"")


class _Request:
    """One request under the guard: its body metered on the way in, the refusal answered."""

    def __init__(self, guard: UploadGuard, scope, receive, send):
        self.guard, self._receive, self._send = guard, receive, send
        path = scope.get("path", "").rstrip("/")
        ctype, options = parse_options_header(_header(scope, b"content-type"))
        self.upload = path.endswith(UPLOAD_ROUTE)
        self.multipart = ctype == b"multipart/form-data" and b"boundary" in options
        limits = guard.limits
        if self.upload and self.multipart:
            self.meter: _PartMeter | _BodyMeter = _PartMeter(options[b"boundary"], limits)
        else:
            self.meter = _BodyMeter(limits.other,
                                    f"request body over the {human(limits.other)} limit for a request here ({FLAGS['other']})")
        self.free = 0 if self.upload else SMALL_BODY  # bytes not counted toward the quota
        self.received = self.counted = 0
        self.complete = False
        self.refused: Refused | None = None
        self.answered = self.started = False
        self.status = 0

    async def receive(self):
        if self.refused:
            raise self.refused
        message = await self._receive()
        if message["type"] == "http.disconnect" and self.multipart and not self.complete:
            self.refused = Refused(0, "the client went away before its upload ended")  # Gradio then deletes the partial file
            raise self.refused
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        try:
            self.meter.feed(chunk)
            await self._count(len(chunk))
        except Refused as refused:
            self.refused = refused
            await self._answer(refused)
            raise
        self.complete = not message.get("more_body", False)
        return message

    async def _count(self, n: int) -> None:
        self.received += n
        counted = max(0, self.received - self.free) - self.counted
        if not counted:
            return
        usage, quota = self.guard.usage, self.guard.limits.quota
        await usage.refresh()
        if usage.total() + counted > quota:
            await usage.refresh(max_age_s=0.5, wait=True)  # files deleted since the last walk count no more
            if usage.total() + counted > quota:
                raise Refused(507, f"upload refused: the server's upload space is full ({human(quota)}, {FLAGS['quota']}); try again later")
        usage.arrive(counted)
        self.counted += counted

    async def _answer(self, refused: Refused) -> None:
        if self.started or not refused.status:
            return
        self.answered = self.started = True
        body = f"{refused.message}\n".encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await self._send({"type": "http.response.start", "status": refused.status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})

    async def send(self, message) -> None:
        if self.answered:
            return  # ours went out; the app's own answer to the refused body is dropped
        if message["type"] == "http.response.start":
            self.started, self.status = True, message["status"]
        await self._send(message)

    def settle(self) -> None:
        self.guard.usage.settle(self.counted, stored=self.upload and self.status == 200 and not self.refused)


class UploadGuard:
    """ASGI middleware in front of Gradio's routes (``launch(app_kwargs={"middleware": ...})``):
    every request body metered against ``limits``; ``folder``: the workspace's upload folder (all
    processes), ``own``: this process's folder in it."""

    def __init__(self, app, limits: UploadLimits, folder: Path, own: Path | None = None):
        self.app, self.limits = app, limits
        self.usage = FolderUsage(folder, own)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path", "").rstrip("/").endswith(RECORDING_ROUTE):
            await _Request(self, scope, receive, send)._answer(Refused(404, "this app records no video: upload a file instead"))
            return
        request = _Request(self, scope, receive, send)
        try:
            await self.app(scope, request.receive, request.send)
        except Exception:
            if request.refused is None:
                raise  # a failure of the app's own, not our refusal
        finally:
            request.settle()
