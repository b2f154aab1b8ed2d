"""Sliced inference for small objects in big frames, with the ``sahi`` package's slicing and merging.

A 1920x1080 CCTV frame shrunk to 640 px loses its 15-30 px helmets. Sliced, the frame is cut into
overlapping tiles of the model's input size (``sahi.slicing.get_slice_bboxes``), each tile is
predicted at its native scale through the project's one loader (``predict.load_detector``: every
format ``predict`` takes; tiles go in batches to a .pt model, one at a time to an export, whose
input shape may be static), boxes are moved back into the frame, and the duplicates across seams
are resolved (``sahi.postprocess.combine``): by default a box cut by a tile's inner edge gives way
to a whole one (the neighbouring tile sees a small object whole; one full-frame pass sees the large
ones) and class-wise NMS by IoU keeps one box per object; an object no tile sees whole (larger than
the overlap, too small for the full frame) keeps the union of its cut pieces, joined by SAHI's
greedy merging; or SAHI's greedy merging of every box by intersection over the smaller box. The
full-frame pass is on by default.

A tile is never stretched: where the frame is smaller than a tile on a side, the crop is padded
(grey 114, as Ultralytics letterboxes) to the tile's size, and boxes are clipped to the frame.
``slicing_of`` reads what callers pass (``sliced=True`` / ``"auto"`` / a ``Slicing``) and checks
the numbers with one clear line naming the flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from yolov11.errors import UserError

MAX_TILES = 400  # tiles of one image: more is hours of work on a CPU for a single frame
MAX_SIZE = 4096
PAD = 114
MERGES = ("nms", "nmm")
EDGE = 2  # px: a box ending this close to a tile's inner edge was cut by it (the next tile sees it whole)


@dataclass(frozen=True)
class Slicing:
    """How to slice: ``auto`` slices only an image with a side over twice the model's input;
    ``size`` the tile side (None: the model's input size); ``overlap`` the share of a tile its
    neighbour repeats; ``full_frame`` adds one pass over the whole image for large objects;
    ``merge``: "nms" (boxes cut by a seam dropped, as the neighbouring tile sees the object whole
    or the full-frame pass does, then class-wise NMS by IoU) or "nmm" (SAHI's greedy merging by
    intersection over the smaller box: unions of overlapping boxes, for confident detections only,
    as a low-scored large box swallows the small ones inside it)."""

    auto: bool = False
    size: int | None = None
    overlap: float = 0.2
    full_frame: bool = True
    merge: str = "nms"
    match: float = 0.5
    max_tiles: int = MAX_TILES  # a public page's cap is lower: a stranger's photo must not start minutes of work
    max_video_tiles: int | None = None  # a video's tiles per frame x frames: a public page's cap (None: only max_tiles per frame)

    def check(self) -> Slicing:
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 < self.size <= MAX_SIZE):
            raise UserError(field="--slice-size", value=self.size, detail=f"a tile side in pixels, 1 to {MAX_SIZE}")
        if isinstance(self.overlap, bool) or not isinstance(self.overlap, (int, float)) or not 0 <= self.overlap < 0.9:
            raise UserError(field="--slice-overlap", value=self.overlap, detail="the share of a tile its neighbour repeats, 0 to below 0.9")
        if self.merge not in MERGES:
            raise UserError(field="--slice-merge", value=self.merge, detail=f"choose one of {', '.join(MERGES)}")
        return self

    def describe(self, imgsz: int) -> str:
        return f"tiles of {self.size or imgsz} px, overlap {self.overlap:g}" + (" + the full frame" if self.full_frame else "")


def slicing_of(sliced: object, size: int | None = None, overlap: float | None = None) -> Slicing | None:
    """``sliced`` as a Slicing, or None for no slicing: None/False/"" (off), True/"on", "auto", or
    a Slicing; ``size`` and ``overlap`` (when given) replace its own."""
    if isinstance(sliced, Slicing):
        base = sliced
    elif sliced in (None, False, "", "off"):
        return None
    elif sliced is True or sliced == "on":
        base = Slicing()
    elif sliced == "auto":
        base = Slicing(auto=True)
    else:
        raise UserError(field="--slice", value=sliced, detail="on (no value), auto, or off")
    changes = {k: v for k, v in (("size", size), ("overlap", overlap)) if v is not None}
    return Slicing(**{**base.__dict__, **changes}).check()


def tile_count(width: int, height: int, size: int, overlap: float) -> int:
    """How many tiles ``tile_boxes`` makes, counted without making them."""
    stride = max(1, size - int(overlap * size))
    return math.prod(1 if side <= size else math.ceil((side - size) / stride) + 1 for side in (width, height))


def tile_boxes(width: int, height: int, size: int, overlap: float, max_tiles: int = MAX_TILES,
               flag: str = "--slice-size") -> list[list[int]]:
    """The tiles [x0, y0, x1, y1] covering a ``width`` x ``height`` image, each ``size`` px (less
    where the image is smaller), neighbours overlapping by ``overlap`` of a tile; at most
    ``max_tiles`` (more: a UserError naming ``flag``)."""
    from sahi.slicing import get_slice_bboxes

    count = tile_count(width, height, size, overlap)
    if count > max_tiles < MAX_TILES:  # a public page's cap: said in a visitor's words
        raise UserError(f"this {width}x{height} photo would be looked at in {count} pieces, more than this page does ({max_tiles}): "
                        "try it without small objects, or a smaller photo")
    if count > MAX_TILES:  # counted before any list is made: a 1 px tile of a 4K frame would be millions
        detail = f"a {width}x{height} image makes {count} tiles at this size, over the cap of {MAX_TILES}: use larger tiles"
        raise UserError(field=flag, value=size, detail=detail)
    return get_slice_bboxes(height, width, size, size, False, overlap, overlap)


def padded_crop(image: np.ndarray, tile: list[int], size: int) -> np.ndarray:
    """The ``tile`` of ``image`` (H x W x C) at the top-left of a ``size`` x ``size`` canvas of grey
    114: never stretched, so objects keep their pixel size."""
    x0, y0, x1, y1 = tile
    crop = image[y0:y1, x0:x1]
    if crop.shape[0] == size and crop.shape[1] == size:
        return np.ascontiguousarray(crop)
    canvas = np.full((size, size, *image.shape[2:]), PAD, dtype=image.dtype)
    canvas[:crop.shape[0], :crop.shape[1]] = crop
    return canvas


def to_frame(xyxy: np.ndarray, tile: list[int]) -> np.ndarray:
    """Boxes found in ``tile``'s crop moved into the frame, clipped to the tile's real area (a box
    reaching into the padding ends at the image border)."""
    x0, y0, x1, y1 = tile
    out = xyxy.astype(np.float64) + np.array([x0, y0, x0, y0], dtype=np.float64)
    out[:, [0, 2]] = out[:, [0, 2]].clip(x0, x1)
    out[:, [1, 3]] = out[:, [1, 3]].clip(y0, y1)
    return out


def cut_at_seams(xyxy: np.ndarray, tile: list[int], width: int, height: int) -> np.ndarray:
    """Which boxes (in the frame) end at one of ``tile``'s inner edges (not the image border): cut
    by the seam, so the neighbouring tile, or the full-frame pass, sees the object whole."""
    x0, y0, x1, y1 = tile
    return (((x0 > 0) & (xyxy[:, 0] <= x0 + EDGE)) | ((y0 > 0) & (xyxy[:, 1] <= y0 + EDGE))
            | ((x1 < width) & (xyxy[:, 2] >= x1 - EDGE)) | ((y1 < height) & (xyxy[:, 3] >= y1 - EDGE)))


def merge_detections(xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray, method: str = "nms",
                     match: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One box per object across tiles, class by class, with ``sahi``'s batched NMS by IoU, or its
    greedy NMM by intersection over the smaller box, which keeps the union of the boxes merged into
    the best scored one (a box cut by a seam and its whole copy from the next tile become the whole box)."""
    from sahi.postprocess.combine import batched_greedy_nmm, batched_nms

    if not len(xyxy):
        return xyxy.reshape(0, 4), scores, classes
    table = np.concatenate([xyxy, scores[:, None], classes[:, None]], axis=1).astype(np.float64)
    if method == "nms":
        keep = list(batched_nms(table, "IOU", match))
        return xyxy[keep], scores[keep], classes[keep]
    merged = batched_greedy_nmm(table, "IOS", match)
    keep = sorted(merged, key=lambda k: -scores[k])
    boxes = np.array([[xyxy[[k, *merged[k]], 0].min(), xyxy[[k, *merged[k]], 1].min(),
                       xyxy[[k, *merged[k]], 2].max(), xyxy[[k, *merged[k]], 3].max()] for k in keep])
    return boxes, scores[keep], classes[keep]


def tile_batch(weights) -> int:
    """Tiles sent to a model at once: 8 to a .pt, 1 to an export (its input may be a fixed shape of one)."""
    return 8 if str(weights).endswith(".pt") else 1


def found_boxes(results) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xyxy, scores, classes) of one Ultralytics prediction, as numpy arrays."""
    boxes = results.boxes
    return boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy().astype(int)


def detect_sliced(model, image: np.ndarray, slicing: Slicing, imgsz: int | None, batch: int = 8, full: tuple | None = None,
                  **predict_args) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Detections (xyxy, scores, classes) of ``model`` (an ``ultralytics.YOLO``, its ``lock`` held
    by the caller) on a BGR ``image``, sliced; and the number of tiles predicted (0: ``auto``
    found the image small enough for one pass). ``imgsz`` None: the model's own input size (an
    export's, learnt from the full-frame pass). ``full``: the full-frame pass (``found_boxes``) when
    the caller made it already, with the same ``imgsz`` and ``predict_args``: not predicted twice."""
    from yolov11.compat.results import input_size

    height, width = image.shape[:2]
    if full is None and (imgsz is None or slicing.auto or slicing.full_frame):
        full = found_boxes(model.predict(image, verbose=False, **({"imgsz": imgsz} if imgsz else {}), **predict_args)[0])
    imgsz = imgsz or input_size(model) or 640
    if slicing.auto and max(height, width) <= 2 * imgsz:
        return (*full, 0)
    size = slicing.size or imgsz
    tiles = tile_boxes(width, height, size, slicing.overlap, slicing.max_tiles)
    whole: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # boxes cut by a seam ("nms"): used where no whole box is
    step = max(1, batch)
    for start in range(0, len(tiles), step):
        chunk = tiles[start:start + step]
        results = model.predict([padded_crop(image, t, size) for t in chunk], imgsz=size, verbose=False, **predict_args)
        for tile, res in zip(chunk, results):
            xyxy, scores, classes = found_boxes(res)
            moved = to_frame(xyxy, tile)
            cut = cut_at_seams(moved, tile, width, height) if slicing.merge == "nms" else np.zeros(len(moved), bool)
            whole.append((moved[~cut], scores[~cut], classes[~cut]))
            pieces.append((moved[cut], scores[cut], classes[cut]))
    if slicing.full_frame and full is not None and len(tiles) > 1:
        whole.append(full)
    kept = merge_detections(*_joined(whole), slicing.merge, slicing.match)
    return (*with_lone_pieces(kept, _joined(pieces), slicing.match), len(tiles))


def _joined(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.concatenate([p[0].reshape(-1, 4) for p in parts] or [np.zeros((0, 4))]),
            np.concatenate([p[1] for p in parts] or [np.zeros(0)]), np.concatenate([p[2] for p in parts] or [np.zeros(0, int)]))


def with_lone_pieces(kept: tuple, pieces: tuple, match: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``kept`` boxes, plus the union of the seam-cut ``pieces`` of each object that no kept box
    holds (mostly inside a kept box of its class: the same object seen whole)."""
    from yolov11.boxes import box_inside

    xyxy, scores, classes = pieces
    if len(xyxy) and len(kept[0]):
        held = (box_inside(xyxy, kept[0]) >= match) & (classes[:, None] == kept[2][None, :])
        lone = ~held.any(axis=1)
        xyxy, scores, classes = xyxy[lone], scores[lone], classes[lone]
    if not len(xyxy):
        return kept
    joined = merge_detections(xyxy, scores, classes, "nmm", match)
    return tuple(np.concatenate([a.reshape(-1, 4) if k == 0 else a, b.reshape(-1, 4) if k == 0 else b])
                 for k, (a, b) in enumerate(zip(kept, joined)))
