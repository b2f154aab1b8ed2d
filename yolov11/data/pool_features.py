"""What the queue's diversity measures distance in: the pre-labelling run's own backbone, else a
cheap image descriptor.

``prelabel`` with a PyTorch model (a run's ``best.pt`` or uploaded ``.pt``) also takes each
item's embedding at the last backbone layer (``YOLO.embed``: the layer's output average-pooled,
256 numbers for yolov11n; no downloaded weights) and keeps them in ``pools/<base>/embeddings.npz``
(ids, unit vectors, the model's name; replaced as a whole by the next pre-label). The queue uses
them when every queued item has one; otherwise (no model yet, an exported model that exposes no
layers, items added since the pre-label) it uses ``descriptor``, a 16x16 grey thumbnail, for all.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from yolov11.data.pool import pool_dir
from yolov11.workspace import Workspace

THUMB = 16
EMBEDDINGS = "embeddings.npz"


@functools.lru_cache(maxsize=8192)
def descriptor(path: str) -> np.ndarray:
    """A 256-number descriptor of an image: its 16x16 grey thumbnail, zero mean, unit norm. Kept
    per path: a pool item's file is named by its content, so the review's next-image query (one a
    key press) does not read every image of the pool again."""
    from PIL import Image

    with Image.open(path) as im:
        im.draft("L", (64, 64))
        v = np.asarray(im.convert("L").resize((THUMB, THUMB), Image.Resampling.BILINEAR), np.float32).ravel()
    v = v - v.mean()
    return v / (np.linalg.norm(v) + 1e-6)


def backbone_embeddings(model, images: list[np.ndarray]) -> np.ndarray | None:
    """Unit vectors of ``images`` (BGR arrays) at ``model``'s last backbone layer, one row each;
    None for a model that exposes no layers (an export)."""
    from yolov11.compat.graph import backbone_end

    layer = backbone_end(model)
    if layer is None:
        return None
    with model.lock:
        vectors = np.stack([t.float().cpu().numpy() for t in model.embed(images, embed=[layer], verbose=False)])
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-6)


def save_embeddings(ws: Workspace, base: str, ids: list[str], vectors: list[np.ndarray], model: str) -> None:
    """Replace the pool's embeddings (written whole, then renamed into place)."""
    path = pool_dir(ws, base) / EMBEDDINGS
    partial = path.with_name(f".{EMBEDDINGS}.{os.getpid()}.npz")
    np.savez(partial, ids=np.array(ids, dtype=str), vectors=np.stack(vectors).astype(np.float32), model=np.array(model))
    os.replace(partial, path)


@functools.lru_cache(maxsize=16)
def _read(path: str, stamp: tuple[int, int]) -> tuple[dict[str, np.ndarray], str]:
    with np.load(path, allow_pickle=False) as saved:
        return dict(zip(saved["ids"].tolist(), saved["vectors"])), str(saved["model"])


def features(ws: Workspace, base: str, rows: list[dict]) -> tuple[np.ndarray, str]:
    """One row per item of ``rows`` and what they are: "backbone of <model>" or "image descriptor"."""
    path = pool_dir(ws, base) / EMBEDDINGS
    if rows and path.is_file():
        st = path.stat()
        try:
            saved, model = _read(str(path), (st.st_mtime_ns, st.st_size))
        except (OSError, ValueError, KeyError):
            saved, model = {}, ""  # unreadable (a hand edit): the descriptor serves
        if all(r["id"] in saved for r in rows):
            return np.stack([saved[r["id"]] for r in rows]), f"backbone of {model}"
    return np.stack([descriptor(r["file"]) for r in rows]) if rows else np.zeros((0, THUMB * THUMB)), "image descriptor"


__all__ = ["backbone_embeddings", "descriptor", "features", "save_embeddings"]
