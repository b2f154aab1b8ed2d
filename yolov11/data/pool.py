"""A dataset's unlabeled pool: photos and video frames waiting to be labeled.

    pool_add("site", ["cam3.mp4", "phone-photos.zip"], every=1.0)  ->  <workspace>/pools/site/items/<id>.jpg

The pool belongs to a dataset's base name (``site``, shared by ``site@v2``, ``site@v3``, ...). Its
items live in ``pools/<base>/items/`` and in the registry's ``pool_items`` table: id (the first 12
hex digits of the stored file's SHA-1), source (the file's name, and for a frame its timestamp),
SHA-1 and pHash, state (new, suggested, accepted, rejected, skipped) and, once suggested, the model
and its suggestions. Inputs pass the import's checks (``checks.inspect_image``: readable, the
pixel cap; zips through ``archive.extract_zip``; videos through ``serve.video_file``'s decoder
caps, up to 4 hours a video). A video is sampled one frame every ``every`` seconds, seeking rather
than decoding every frame, at most ``MAX_FRAMES_PER_ADD`` kept per add. The same bytes are never
added twice, and an image within the importer's near-duplicate distance (``NEAR_DISTANCE`` bits
of pHash) of one already in the pool or the dataset is skipped: a static stretch of footage
collapses to one frame. Each call returns what it added, skipped and left out, in words.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from yolov11 import liveness
from yolov11.data.archive import extract_zip
from yolov11.data.checks import NEAR_DISTANCE, inspect_image
from yolov11.data.source import IMAGE_SUFFIXES, images_under
from yolov11.errors import UserError
from yolov11.workspace import Workspace, split_version
from yolov11.workspace.paths import POOL_SCRATCH_PREFIX

STATES = ("new", "suggested", "accepted", "rejected", "skipped")
VIDEO_SUFFIXES = {".mp4", ".webm", ".mov", ".mkv", ".avi"}
MAX_VIDEO_SECONDS = 4 * 3600.0  # an NVR export of a shift; longer footage is cut first
MAX_FRAMES_PER_ADD = 2000
FRAME_QUALITY = 92  # JPEG quality of stored frames
_SCHEMA = """
CREATE TABLE IF NOT EXISTS pool_items (
    dataset TEXT NOT NULL, id TEXT NOT NULL, file TEXT NOT NULL, source TEXT, at_s REAL, sha1 TEXT, phash TEXT,
    state TEXT, model TEXT, suggestions TEXT, created REAL, uncertainty REAL, version TEXT, PRIMARY KEY (dataset, id));
"""
_COLUMNS_ADDED = {"draft": "TEXT"}  # draft: a review not yet written as a version ({"boxes", "counts"})
Progress = Callable[[float, str], None]


def pool_dir(ws: Workspace, dataset: str) -> Path:
    return ws.root / "pools" / split_version(dataset)[0]


def _base(ws: Workspace, data: str) -> str:
    if not ws.dataset(str(data or "")):
        ws.resolve_data(str(data or ""))  # says what the workspace has
        raise UserError(field="--data", value=data, detail="the pool belongs to a workspace dataset: import one first")
    return split_version(str(data))[0]


_ready: set[str] = set()  # workspaces whose pool table this process has made current
_ready_lock = threading.Lock()


def _table(ws: Workspace) -> None:
    """Create the pool table and add the columns it gained, once per workspace and process (every
    list and every review reads the pool: no registry write on those, which a full disk refuses)."""
    with _ready_lock:
        if str(ws.root) in _ready:
            return
        ws._write(_SCHEMA.strip())
        have = {row["name"] for row in ws._query("PRAGMA table_info(pool_items)")}
        for column, kind in _COLUMNS_ADDED.items():
            if column not in have:
                ws._write(f"ALTER TABLE pool_items ADD COLUMN {column} {kind}")
        _ready.add(str(ws.root))


def _rows(ws: Workspace, base: str, state: str | None = None) -> list[dict]:
    _table(ws)
    sql, args = "SELECT * FROM pool_items WHERE dataset = ?", [base]
    if state:
        sql, args = sql + " AND state = ?", [*args, state]
    rows = ws._query(sql + " ORDER BY created, id", tuple(args))
    for row in rows:
        row["suggestions"] = json.loads(row["suggestions"]) if row["suggestions"] else []
        row["draft"] = json.loads(row["draft"]) if row.get("draft") else None
    return rows


ITEM_FIELDS = ("id", "file", "source", "at_s", "state", "model", "suggestions", "uncertainty", "version", "draft")


def pool_items(data: str, state: str | None = None, workspace: Workspace | str | os.PathLike | None = None) -> list[dict]:
    """The pool's items (oldest first): {"id", "file", "source", "at_s", "state", "model",
    "suggestions" [{"class", "confidence", "box"}], "uncertainty", "version" (once accepted)}."""
    ws = Workspace.at(workspace)
    if state is not None and state not in STATES:
        raise UserError(field="--state", value=state, detail=f"choose one of {', '.join(STATES)}")
    return [{k: row[k] for k in ITEM_FIELDS} for row in _rows(ws, _base(ws, data), state)]


def update_item(ws: Workspace, base: str, item_id: str, **fields) -> None:
    """Set ``fields`` (state, model, suggestions, uncertainty, version) of one pool item."""
    for key in ("suggestions", "draft"):
        if key in fields and fields[key] is not None:
            fields[key] = json.dumps(fields[key])
    sets = ", ".join(f"{k} = :{k}" for k in fields)
    ws._write(f"UPDATE pool_items SET {sets} WHERE dataset = :dataset AND id = :id", {**fields, "dataset": base, "id": item_id})


def chosen_items(ws: Workspace, data: str, items: str | list, states: tuple[str, ...]) -> tuple[str, list[dict]]:
    """(base, the pool rows named by ``items``: ids, a list or "a,b"); UserError naming an unknown
    id or one whose state is not among ``states``."""
    base = _base(ws, data)
    ids = [i.strip() for i in (items.split(",") if isinstance(items, str) else items or []) if str(i).strip()]
    if not ids:
        raise UserError(field="--items", value="", detail="name the pool items (their ids, as pool-list shows them)")
    rows = {row["id"]: row for row in _rows(ws, base)}
    for item_id in ids:
        if item_id not in rows:
            raise UserError(field="--items", value=item_id, detail=f"not an item of {base}'s pool")
        if rows[item_id]["state"] not in states:
            raise UserError(field="--items", value=item_id, detail=f"is {rows[item_id]['state']} already")
    return base, [rows[i] for i in dict.fromkeys(ids)]


class _Seen:
    """pHashes already in the pool or the dataset: is a new image a near duplicate of one?"""

    def __init__(self, hashes: list[int]):
        self.hashes = np.array(hashes, dtype=np.uint64)

    def near(self, phash: int) -> bool:
        if not len(self.hashes):
            return False
        bits = np.unpackbits((self.hashes ^ np.uint64(phash)).view(np.uint8)).reshape(-1, 64).sum(axis=1)
        return bool((bits <= NEAR_DISTANCE).any())

    def add(self, phash: int) -> None:
        self.hashes = np.append(self.hashes, np.uint64(phash))


def _dataset_hashes(ws: Workspace, data: str) -> list[int]:
    """The pHashes of the dataset's images, kept in ``pools/<base>/.phash-<name>.npz`` with the
    dataset's creation time (a dataset folder never changes once written; one deleted and imported
    again under the same name is computed again), so each add does not read the whole dataset."""
    record = ws.dataset(data)
    cache = pool_dir(ws, data) / f".phash-{hashlib.sha1(record['name'].encode()).hexdigest()[:12]}.npz"
    try:
        with np.load(cache, allow_pickle=False) as saved:
            if float(saved["created"]) == float(record["created"]):
                return [int(h) for h in saved["hashes"]]
    except (OSError, ValueError, KeyError):
        pass  # none yet, or unreadable: computed again
    folder = Path(record["path"]) / "images"
    hashes = [info.phash for p in images_under(folder) if not (info := inspect_image(p, family=False)).problem and not info.truncated]
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.stem}.{os.getpid()}.partial.npz")
        np.savez(partial, hashes=np.array(hashes, dtype=np.uint64), created=np.float64(record["created"]))
        os.replace(partial, cache)
    except OSError:
        pass  # a full disk: the next add computes them again
    return hashes


def _video_frames(path: Path, every: float):
    """(seconds, PIL image) one frame every ``every`` seconds: a seek to each time where the
    container allows, else every frame decoded and one kept a step; UserError for a refused file."""
    import av

    from yolov11.serve.video_file import check_frame, open_video

    with open_video(path) as container:
        if not container.streams.video:
            raise UserError(f"{path.name}: holds no video stream")
        stream = container.streams.video[0]
        check_frame(path, stream.codec_context.width, stream.codec_context.height)
        stream.codec_context.options = {"max_pixels": str(3840 * 2160)}  # FFmpeg refuses a larger frame before allocating it
        stream.thread_type = "SLICE"  # not FRAME: frame threads drop an over-cap frame silently
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else (container.duration or 0) / 1e6
        if duration > MAX_VIDEO_SECONDS:
            raise UserError(f"{path.name}: {duration / 3600:.1f} hours long, over the {MAX_VIDEO_SECONDS / 3600:.0f} hour limit a video")
        at = 0.0
        try:
            while at <= max(duration, 0.0) + 1e-6:
                if stream.time_base:
                    container.seek(int(at / stream.time_base), stream=stream, backward=True, any_frame=False)
                frame = next((f for f in container.decode(stream) if f.time is None or f.time + 1e-3 >= at), None)
                if frame is None:
                    return
                yield round(at, 3), frame.to_image()
                at += every
        except av.FFmpegError as exc:
            raise UserError(f"{path.name}: could not read the video at {at:.0f} s ({' '.join(str(exc).split())[:160]})") from None


def _sources(items: list[Path], scratch: Path) -> tuple[list[Path], list[Path], list[str]]:
    """(images, videos, what was left out) of the given files, folders and zips."""
    images, videos, left_out = [], [], []
    for item in items:
        if not item.exists():
            raise UserError(f"{item.name}: no such file or folder")
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file())
        elif item.suffix.lower() == ".zip":
            dest = Path(tempfile.mkdtemp(prefix="zip-", dir=scratch))
            left_out += extract_zip(item, dest)
            found = sorted(p for p in dest.rglob("*") if p.is_file())
        else:
            found = [item]
        for path in found:
            suffix = path.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                images.append(path)
            elif suffix in VIDEO_SUFFIXES:
                videos.append(path)
            elif item.is_file() and path == item:
                raise UserError(f"{path.name}: not an image or a video (images: {', '.join(sorted(IMAGE_SUFFIXES))}; "
                                f"videos: {', '.join(sorted(VIDEO_SUFFIXES))}; or a zip or folder of them)")
            else:
                left_out.append(f"{path.name}: not an image or a video")
    return images, videos, left_out


def pool_add(data: str, sources: str | os.PathLike | list, every: float = 1.0, workspace: Workspace | str | os.PathLike | None = None,
             progress: Progress | None = None) -> dict:
    """Add photos and video frames to dataset ``data``'s pool; returns {"added", "skipped",
    "left_out" (lines), "items" (the added ones), "notes"}."""
    ws = Workspace.at(workspace)
    base = _base(ws, data)
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not 0.05 <= every <= 3600:
        raise UserError(field="--every", value=every, detail="seconds between sampled frames, between 0.05 and 3600")
    items = [Path(s).expanduser() for s in (sources if isinstance(sources, (list, tuple)) else [sources])]
    if not items:
        raise UserError(field="SOURCE", value="", detail="give photos, videos, or a zip or folder of them")
    folder = pool_dir(ws, base) / "items"
    folder.mkdir(parents=True, exist_ok=True)
    known = _rows(ws, base)
    have = {row["sha1"] for row in known}
    seen = _Seen([int(row["phash"], 16) for row in known if row["phash"]] + _dataset_hashes(ws, data))
    added, skipped, notes = [], {"exact": 0, "near": 0}, []
    with tempfile.TemporaryDirectory(prefix=f"{POOL_SCRATCH_PREFIX}{os.getpid()}-", dir=pool_dir(ws, base)) as tmp:
        liveness.mark(Path(tmp), ws.owners_dir)  # a killed add's scratch is removed at the next start, a live one's never
        images, videos, left_out = _sources(items, Path(tmp))

        def keep(path: Path, source: str, at: float | None) -> None:
            info = inspect_image(path, family=False)
            if info.problem:
                left_out.append(f"{source}: {info.problem}")
                return
            if info.sha1 in have:
                skipped["exact"] += 1
                return
            if seen.near(info.phash):
                skipped["near"] += 1
                return
            if len(added) >= MAX_FRAMES_PER_ADD:
                raise _Full
            item_id = info.sha1[:12]
            dest = folder / f"{item_id}{path.suffix.lower()}"
            shutil.copyfile(path, dest)
            row = {"dataset": base, "id": item_id, "file": str(dest), "source": source, "at_s": at, "sha1": info.sha1,
                   "phash": f"{info.phash:016x}", "state": "new", "model": None, "suggestions": None, "created": time.time()}
            ws._write("INSERT OR IGNORE INTO pool_items (dataset, id, file, source, at_s, sha1, phash, state, model, suggestions, created) "
                      "VALUES (:dataset, :id, :file, :source, :at_s, :sha1, :phash, :state, :model, :suggestions, :created)", row)
            have.add(info.sha1)
            seen.add(info.phash)
            added.append({"id": item_id, "file": str(dest), "source": source, "at_s": at, "state": "new", "suggestions": []})

        try:
            for n, path in enumerate(images):
                keep(path, path.name, None)
                if progress:
                    progress(0.5 * (n + 1) / max(len(images), 1), f"photos {n + 1}/{len(images)}")
            for n, video in enumerate(videos):
                frame_file = Path(tmp) / "frame.jpg"
                for at, image in _video_frames(video, float(every)):
                    image.convert("RGB").save(frame_file, "JPEG", quality=FRAME_QUALITY)
                    keep(frame_file, f"{video.name} at {at:.1f} s", at)
                if progress:
                    progress(0.5 + 0.5 * (n + 1) / len(videos), f"videos {n + 1}/{len(videos)}")
        except _Full:
            notes.append(f"stopped at {MAX_FRAMES_PER_ADD} new items: what followed was left out (add it again to take the next part, "
                         "or sample less often with a larger --every)")
    if skipped["exact"]:
        notes.append(f"{skipped['exact']} already in the pool (the same bytes)")
    if skipped["near"]:
        notes.append(f"{skipped['near']} near duplicates of an image already in the pool or the dataset (a static stretch of footage, "
                     "a re-encoded copy)")
    return {"dataset": base, "added": len(added), "skipped": skipped["exact"] + skipped["near"], "left_out": left_out, "items": added,
            "notes": notes}


class _Full(Exception):
    """The add reached MAX_FRAMES_PER_ADD."""
