"""What the family search (``families``) keeps of each image: its descriptor and the features
computed from it once.

``describe`` is the only work on the decoded image: two small resizes (grey 128 px, colour 32 px,
squashed to squares so a turn of the image stays a turn). ``features`` adds, per descriptor, the
two summaries the search ranks candidates by: colour and texture histograms and coarse layouts.
Both are row by row, so the import computes them in its thread pool, batch by batch, while the
annotations are read; the grouping then starts from them.

Memory: a descriptor is ~18 KB of thumbnails (100,000 images: 1.8 GB). ``Thumbnails`` keeps
them in a memory-mapped file of a scratch folder instead of the heap, so the kernel can write
them out and drop them under pressure; the features (~1.3 KB an image) stay in memory.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from yolov11.data.family_match import CHROMA, SIZE

DRAFT = 96  # a JPEG is decoded at the smallest of 1/2..1/8 scale that keeps this many px a side (1/4 for 640x480)
CHUNK = 256  # descriptors whose features are computed at once: the intermediate arrays are ~40 KB an image


@dataclass(frozen=True, eq=False)
class Descriptor:
    """What the content test needs of one image, computed once (``describe``): 18 KB, plus its
    features (``features``) once computed."""

    grey: np.ndarray  # (SIZE, SIZE) uint8: the image squashed to a square (a turn of the image stays a turn), grey
    chroma: np.ndarray  # (CHROMA, CHROMA, 2) int8: Cb - 128, Cr - 128 (0, 0: grey), squashed the same way
    hist: np.ndarray | None = None  # (118,) float32: ``histograms``
    layout: np.ndarray | None = None  # (windows, 2, GRID, GRID) float16: ``layouts``

    def __eq__(self, other: object) -> bool:  # the same thumbnails (the features are computed from them, when they are)
        if not isinstance(other, Descriptor):
            return NotImplemented
        return np.array_equal(self.grey, other.grey) and np.array_equal(self.chroma, other.chroma)

    __hash__ = None  # mutable arrays inside


def describe(im: Image.Image) -> Descriptor:
    """The descriptor of an opened image, in any mode. Cheapest for a JPEG opened with
    ``draft("YCbCr", (DRAFT, DRAFT))``: decoded at reduced scale, no colour conversion, and its
    grey is the Y plane as decoded (as ``draft("L")`` gives it)."""
    if im.mode not in ("L", "RGB", "YCbCr"):
        im = im.convert("RGB")  # palette, alpha, CMYK, 16-bit: grey and colour are all the test needs
    arr = np.asarray(im)
    if im.mode == "RGB":
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2YCrCb)  # the JPEG/JFIF formulas, as PIL's YCbCr (channels Y, Cr, Cb)
    y = arr if im.mode == "L" else np.ascontiguousarray(arr[..., 0])
    grey = cv2.resize(y, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    if im.mode == "L":
        chroma = np.zeros((CHROMA, CHROMA, 2), np.int8)
    else:  # all three planes resized at once (OpenCV's 2-plane resize is 3x slower), then Cb, Cr taken
        small = cv2.resize(arr, (CHROMA, CHROMA), interpolation=cv2.INTER_AREA)
        chroma = (small[..., 1:] if im.mode == "YCbCr" else small[..., :0:-1]).astype(np.int16) - 128
        chroma = chroma.astype(np.int8)
    return Descriptor(grey, chroma)


def describe_file(path: Path) -> Descriptor | None:
    """Open ``path`` at reduced scale and describe it; None when it cannot be read."""
    try:
        with Image.open(path) as im:
            im.draft("YCbCr", (DRAFT, DRAFT))
            return describe(im)
    except Exception:  # unreadable images are the import checks' business: here they are nobody's copy
        return None


# --- histograms: colour and texture, blind to where things are -------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.sqrt(np.maximum(x, 0))  # Hellinger: big bins dominate less
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)


def _row_hist(index: np.ndarray, bins: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per row of ``index`` (N, M) ints in [0, bins), a histogram: one bincount for all rows."""
    n = len(index)
    flat = (index + np.arange(n)[:, None] * bins).ravel()
    return np.bincount(flat, None if weights is None else weights.ravel(), n * bins).reshape(n, bins).astype(np.float32)


def _label_hist(labels: np.ndarray, bins: int) -> np.ndarray:
    """Per row of ``labels`` (N, ...) uint8 in [0, bins), a histogram (OpenCV's, ~10x a flat bincount here)."""
    return np.stack([cv2.calcHist([np.ascontiguousarray(row)], [0], None, [bins], [0, bins]).ravel() for row in labels])


def _uniform_table() -> np.ndarray:
    """8-bit neighbour pattern -> rotation-invariant uniform LBP label: the count of ones when the
    circle has at most 2 changes between 0 and 1, else 9."""
    table = np.empty(256, np.uint8)
    for code in range(256):
        bits = [(code >> k) & 1 for k in range(8)]
        changes = sum(bits[k] != bits[k - 1] for k in range(8))
        table[code] = sum(bits) if changes <= 2 else 9
    return table


UNIFORM = _uniform_table()


def _lbp(grey: np.ndarray, r: int) -> np.ndarray:
    """Rotation-invariant uniform local binary patterns (8 neighbours at distance ``r``): 10 bins,
    unchanged by turns, flips and any brightness or contrast change."""
    _, h, w = grey.shape  # uint8: "brighter" is "> centre", so equal neighbours on flat areas read 0 (noise-proof)
    centre = grey[:, r:h - r, r:w - r]
    code = np.zeros(centre.shape, np.uint8)
    for bit, (dy, dx) in enumerate([(-r, -r), (-r, 0), (-r, r), (0, r), (r, r), (r, 0), (r, -r), (0, -r)]):  # around the circle
        code |= (grey[:, r + dy:h - r + dy, r + dx:w - r + dx] > centre).view(np.uint8) << bit
    labels = cv2.LUT(code.reshape(-1, code.shape[-1]), UNIFORM)  # UNIFORM[code], ~20x faster than numpy's indexing
    return _label_hist(labels.reshape(code.shape), 10)


def histograms(descs: Sequence[Descriptor]) -> np.ndarray:
    """(N, 118) unit rows: hue (36), hue x grey level (12 x 3), texture (3 x 10), grey levels (16)."""
    n = len(descs)
    g64 = np.stack([cv2.resize(d.grey, (64, 64), interpolation=cv2.INTER_AREA) for d in descs])  # uint8
    g32 = np.stack([cv2.resize(g, (32, 32), interpolation=cv2.INTER_AREA) for g in g64])
    flat = g32.reshape(n, -1).astype(np.float32)  # the grey at the colour thumbnail's size (CHROMA == 32)
    smooth = np.stack([cv2.GaussianBlur(g, (0, 0), 1.0) for g in g64])
    cbcr = np.stack([d.chroma for d in descs]).astype(np.float32).reshape(n, -1, 2)
    hue = np.arctan2(cbcr[..., 1], cbcr[..., 0]) / (2 * np.pi) % 1.0
    weight = np.hypot(cbcr[..., 0], cbcr[..., 1])  # chroma: grey pixels have no hue worth counting
    z = (flat - flat.mean(1, keepdims=True)) / (flat.std(1, keepdims=True) + 1e-3)
    level = (z >= -0.5).view(np.int8) + (z >= 0.5).view(np.int8)  # dark, middle, light (np.digitize's bins, quicker):
    #                                                                relative, so brightness and contrast do not move it
    hue_level = _row_hist(np.minimum((hue * 12).astype(np.int64), 11) * 3 + level.astype(np.int64), 36, weight)
    bins = hue * 36  # soft: each pixel split between its two nearest of 36 hue bins
    low = np.floor(bins).astype(np.int64)
    hue36 = _row_hist(low % 36, 36, weight * (1 - (bins - low))) + _row_hist((low + 1) % 36, 36, weight * (bins - low))
    levels = _label_hist(np.clip((z + 2.5) / 5 * 16, 0, 15).astype(np.uint8), 16)
    # a Python float keeps float32
    texture = np.concatenate([_unit(_lbp(g64, 1)), _unit(_lbp(smooth, 2)), _unit(_lbp(g32, 1))], 1) / 3 ** 0.5
    feats = np.concatenate([_unit(hue36), _unit(hue_level), 0.7 * texture, 0.7 * _unit(levels)], 1)
    return feats / (np.linalg.norm(feats, axis=1, keepdims=True) + 1e-9)


# --- coarse layouts: where the grey levels and the edges are ------------------------------------

WINDOWS = [(0.0, 0.0, 1.0), (0.1, 0.1, 0.8), (0.0, 0.0, 0.8), (0.2, 0.0, 0.8), (0.0, 0.2, 0.8), (0.2, 0.2, 0.8)]  # x0, y0, side
GRID = 6


def _pooling(x0: float, side: float, size: int) -> np.ndarray:
    """(GRID, size) matrix averaging ``size`` pixels into GRID cells over [x0, x0 + side)."""
    edges = np.linspace(x0 * size, (x0 + side) * size, GRID + 1)
    px = np.arange(size)
    overlap = np.clip(np.minimum(edges[1:, None], px + 1) - np.maximum(edges[:-1, None], px), 0, None)
    return (overlap / overlap.sum(1, keepdims=True)).astype(np.float32)


def _blur_matrix(sigma: float, size: int) -> np.ndarray:
    """(size, size) K with K @ x == cv2.GaussianBlur's pass along the first axis of float ``x`` (its
    kernel size for floats, its border: reflected without the edge), to float precision."""
    kernel = cv2.getGaussianKernel(int(round(sigma * 4 * 2 + 1)) | 1, sigma, cv2.CV_32F)
    return cv2.sepFilter2D(np.eye(size, dtype=np.float32), -1, np.ones((1, 1), np.float32), kernel, borderType=cv2.BORDER_REFLECT_101)


_SOFTEN = _blur_matrix(2.0, 64)
# Each window's pooling with the maps' softening (a Gaussian of sigma 2, linear) folded in: one
# matrix product instead of two blurs an image. Rows (y) and columns (x) of each window.
_POOLS = [(_pooling(y0, side, 64) @ _SOFTEN, (_pooling(x0, side, 64) @ _SOFTEN).T) for x0, y0, side in WINDOWS]


def layouts(descs: Sequence[Descriptor]) -> np.ndarray:
    """(N, windows, 2, GRID, GRID): grey level and edge energy, softened, pooled over each window,
    each window's grid normalised (zero mean, unit length), so brightness and contrast do not count."""
    maps = []
    for d in descs:
        g = cv2.resize(d.grey.astype(np.float32), (64, 64), interpolation=cv2.INTER_AREA)
        maps.append([g, np.abs(cv2.GaussianBlur(g, (0, 0), 1.0) - cv2.GaussianBlur(g, (0, 0), 2.5))])
    stack = np.asarray(maps, np.float32)  # N, 2, 64, 64
    out = []
    for rows, cols in _POOLS:
        pooled = rows @ stack @ cols  # N, 2, GRID, GRID
        pooled = pooled - pooled.mean(axis=(2, 3), keepdims=True)
        out.append(pooled / (np.linalg.norm(pooled, axis=(2, 3), keepdims=True) + 1e-6))
    return np.stack(out, 1) / 2 ** 0.5


def features(descs: Sequence[Descriptor]) -> list[Descriptor]:
    """``descs`` with their histograms and layouts (computed for those without, CHUNK at a time).
    Layouts are kept as float16: ~0.1 % of a similarity, 860 bytes an image instead of 1.7 KB."""
    out = list(descs)
    todo = [k for k, d in enumerate(out) if d.hist is None or d.layout is None]
    for start in range(0, len(todo), CHUNK):
        part = todo[start:start + CHUNK]
        chunk = [out[k] for k in part]
        hist, lay = histograms(chunk), layouts(chunk).astype(np.float16)
        for row, k in enumerate(part):
            out[k] = replace(out[k], hist=hist[row], layout=lay[row])
    return out


class Thumbnails:
    """Descriptors' thumbnails in memory-mapped files under ``folder`` (a scratch folder that is
    removed with them), for ``capacity`` images: ``keep`` copies a descriptor's arrays there and
    returns it pointing at the copies, so the heap holds its features only. Threads may keep at
    once; beyond ``capacity`` descriptors stay as they are.

    The files' space is reserved when they are made (a write into a sparse mapping on a full disk
    kills the process with SIGBUS); where it cannot be, the thumbnails stay in memory."""

    def __init__(self, folder: Path, capacity: int) -> None:
        self.capacity = capacity
        self._next = itertools.count()  # next() of a count is atomic under the GIL: each thread gets its own row
        self._grey = self._chroma = None
        if capacity:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self._grey = self._mapped(folder / "grey.npy", np.uint8, (capacity, SIZE, SIZE))
                self._chroma = self._mapped(folder / "chroma.npy", np.int8, (capacity, CHROMA, CHROMA, 2))
            except OSError:  # no room on the disk (or no memory maps there): in memory, as in a plain find_families
                self._grey = self._chroma = None
                self.capacity = 0

    @staticmethod
    def _mapped(path: Path, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
        if not hasattr(os, "posix_fallocate"):  # macOS, Windows: no way to reserve the space, so no mapping
            raise OSError("posix_fallocate is not available")
        array = np.lib.format.open_memmap(path, "w+", dtype, shape)
        with open(path, "r+b") as f:
            os.posix_fallocate(f.fileno(), 0, os.path.getsize(path))
        return array

    def keep(self, d: Descriptor | None) -> Descriptor | None:
        if d is None or not self.capacity:
            return d
        k = next(self._next)
        if k >= self.capacity:
            return d
        self._grey[k], self._chroma[k] = d.grey, d.chroma
        return replace(d, grey=self._grey[k], chroma=self._chroma[k])
