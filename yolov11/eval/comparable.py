"""Whether two datasets (or the datasets of two runs) score on the same ground truth for a split.

Images from the pool go into train unless the user says otherwise, and a label edit of train images
leaves val as it was: a run on such a version and a run on its parent are then scored on the same
val images with the same labels, and the difference of their numbers is what the new data
bought. When the split differs (a re-split, images accepted into val, an edited val label) the
numbers are not comparable, and the compare view says so instead of showing a gain.

``split_digest`` reads the bytes of every image and label file of the split (a version's folder
never changes once written; the digest is kept per folder and modification time).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from yolov11.workspace import Workspace


@functools.lru_cache(maxsize=64)
def _digest(images: str, labels: str, stamp: tuple[int, int]) -> tuple[int, str, str]:
    total, pictures = hashlib.sha1(), hashlib.sha1()
    count = 0
    for image in sorted(Path(images).iterdir()):
        if not image.is_file():
            continue
        label = Path(labels) / f"{image.stem}.txt"
        named = image.name.encode("utf-8", "surrogateescape") + b"\0" + hashlib.sha1(image.read_bytes()).digest()
        pictures.update(named)
        total.update(named)
        total.update(b"\0" + (label.read_bytes() if label.is_file() else b"") + b"\0")
        count += 1
    return count, total.hexdigest(), pictures.hexdigest()


def split_digest(folder: str | os.PathLike, split: str) -> dict | None:
    """{"images": N, "digest": hex, "image_digest": hex} of a dataset folder's ``images/<split>``
    with its labels (image_digest: the images alone), or None when the folder has no such split."""
    images, labels = Path(folder) / "images" / split, Path(folder) / "labels" / split
    if not images.is_dir():
        return None
    stamps = [images.stat().st_mtime_ns, labels.stat().st_mtime_ns if labels.is_dir() else 0]
    count, digest, pictures = _digest(str(images), str(labels), tuple(stamps))
    return {"images": count, "digest": digest, "image_digest": pictures}


def same_ground_truth(data_a: str, data_b: str, split: str = "val", workspace: Workspace | str | os.PathLike | None = None) -> dict:
    """Whether datasets ``data_a`` and ``data_b`` of the workspace hold the same ``split``, image
    for image and label for label: {"same": True / False / None (a dataset not in the workspace or
    without the split), "same_images": the same images (labels may differ), "images": {name: N or None}}."""
    ws = Workspace.at(workspace)
    digests = {}
    for name in dict.fromkeys([data_a, data_b]):
        record = ws.dataset(name or "")
        digests[name] = split_digest(record["path"], split) if record else None
    known = list(digests.values())
    same = None if None in known else all(d["digest"] == known[0]["digest"] for d in known)
    pictures = None if None in known else all(d["image_digest"] == known[0]["image_digest"] for d in known)
    return {"same": same, "same_images": pictures, "split": split, "images": {n: (d or {}).get("images") for n, d in digests.items()}}
