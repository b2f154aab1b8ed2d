"""Families of augmented copies: images that are one photo flipped, turned, cropped or recoloured.

A Roboflow export holds each photo several times (``IMG_0012_jpg.rf.<hash>.jpg``: flips, 90°
turns, crops keeping >= 60 %, ±30 % brightness/contrast/saturation), often in a train split
alone. Splitting such a set image by image puts siblings on both sides and val measures recall
of the training images. ``find_families`` groups the images, by name and by content, so the
split can keep each family on one side (``splits``) and a given split can be checked for
families across it (``crossing``, the health report).

By name: Roboflow's ``<stem>_<ext>.rf.<hash>.<ext>``; copies share ``<stem>.<ext>``. Two images
whose names name two photos are taken at their word and not compared by content (in a named
export that is nearly every candidate pair: the content test then costs ~0.15 ms an image).
By content, in three steps that each cost less than the next:

1. candidates: each image's nearest by colour and texture histograms (hue weighted by chroma,
   hue by grey level, rotation-invariant local binary patterns, grey levels). Histograms ignore
   where things are, so flips, turns and crops barely move them, and hue ignores brightness,
   contrast and saturation. Among look-alike scenes a copy can rank 10th-30th, so of the 32
   nearest the few whose layout (below) is most alike join the few nearest;
2. a coarse geometric check, all pairs at once: 6x6 grids of grey level and edge energy over
   the whole image, its centre and its corners (crops), under each of the 8 turns; pairs below
   ``MIN_COARSE_LAYOUT`` are dropped, and the turns are ranked for step 3;
3. the pairwise test of ``family_match`` (turn, scale, shift, then tile-by-tile agreement),
   likeliest pairs first, skipping pairs already joined and capped per image; then a second
   round for the families found in pieces (``SECOND_ROUND``).

Names and content join one union-find; groups come out sorted, the same for the same input.
The per-image work (``family_features``: the descriptor, its histograms and layouts) is done by
the import's checks in its thread pool; what is left here works on those, in memory. The one
part that grows with the square of the images is a matrix product of the histograms, in chunks.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from yolov11.data.family_features import DRAFT, WINDOWS, Descriptor, Thumbnails, describe, describe_file, features
from yolov11.data.family_match import Pyramid, compare

__all__ = [
    "DRAFT", "MAX_CONTENT_IMAGES", "Descriptor", "Families", "Thumbnails", "crossing", "describe", "describe_file", "find_families",
    "name_key",
]

MAX_CONTENT_IMAGES = 50_000  # beyond this the content test is skipped (names only): its candidate search grows with
#                              the square of the images (~1 min at 100k on 2 cores), its thumbnails (on disk) with them
HIST_CANDIDATES = 32  # nearest neighbours by histograms per image, then ranked by layout: among look-alike scenes a
#                       sibling can rank 10th-30th by histograms alone (bench/families.py's site scenes)
CANDIDATES = 5  # ... of which this many most alike by layout are checked, with as many nearest by histograms
MIN_COARSE_LAYOUT = 0.7  # coarse layout similarity below which a pair is not checked (copies: 99 % above 0.75)
# Roboflow: "<stem>_<ext>.rf.<hex hash>.<ext>"; older exports and re-exports vary the case and the hash length.
ROBOFLOW_NAME = re.compile(r"^(?P<stem>.+?)(?:_(?P<ext>jpe?g|png|bmp|webp|tiff?|gif|heic|heif|avif|jfif))?"
                           r"\.rf\.[0-9a-f]{6,}(?:\.[A-Za-z0-9]{1,5})?$", re.IGNORECASE)


@dataclass
class Families:
    groups: list[list[int]]  # indices of images in one family (>= 2 each), sorted, sorted by first index
    keys: list[int]  # per image: its family's number (the smallest index in it); a lone image: its own index
    links: list[tuple[int, int, str]] = field(default_factory=list)  # (i, j, "name" | "content") that joined them
    content: bool = True  # whether the content test ran (False: by name only)

    def subset(self, kept: Sequence[int]) -> Families:
        """The families among the images ``kept`` (indices into these), renumbered 0.. in that
        order: what is left of them once some images were dropped (unreadable ones)."""
        new = {old: k for k, old in enumerate(kept)}
        joined = UnionFind(len(kept))
        links = [(new[i], new[j], how) for i, j, how in self.links if i in new and j in new]
        for group in self.groups:  # whole families, even where the link that made them went with a dropped image
            inside = [new[k] for k in group if k in new]
            for k in inside[1:]:
                joined.join(inside[0], k)
        return _grouped(joined, sorted(links), self.content)


def name_key(name: str) -> str | None:
    """``IMG_0012_jpg.rf.3f9c...jpg`` -> ``IMG_0012.jpg`` (the photo Roboflow augmented); None for other names."""
    found = ROBOFLOW_NAME.match(Path(name).name)
    if not found:
        return None
    return f"{found['stem']}.{(found['ext'] or '').lower()}"


# --- step 1: histograms ---------------------------------------------------------------------------


SIMILARITIES = 1 << 21  # similarities computed at once (8 MB, and 16 MB of their ranks): fewer rows per chunk as images grow


def nearest(feats: np.ndarray, k: int) -> np.ndarray:
    """(N, k) indices of each row's k most similar other rows, most similar first."""
    n = len(feats)
    k = max(0, min(k, n - 1))
    out = np.zeros((n, k), np.int64)
    chunk = max(16, SIMILARITIES // max(n, 1))
    for start in range(0, n if k else 0, chunk):
        sims = feats[start:start + chunk] @ feats.T
        rows = np.arange(start, min(start + chunk, n))
        sims[rows - start, rows] = -np.inf
        np.negative(sims, out=sims)  # smallest first, without a second matrix
        top = np.argpartition(sims, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(sims, top, 1), axis=1, kind="stable")
        out[rows] = np.take_along_axis(top, order, 1)
    return out


def unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """(P, 2) pairs i < j, sorted, each once (a pair as one integer: ~10x np.unique by rows)."""
    lo, hi = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    code = np.unique(lo.astype(np.int64) * n + hi)
    return np.stack([code // n, code % n], 1)


def as_pairs(neighbours: np.ndarray) -> np.ndarray:
    """(P, 2) sorted unique pairs i < j from each row's neighbours (either way round counts once)."""
    rows = np.repeat(np.arange(len(neighbours)), neighbours.shape[1])
    return unique_pairs(np.stack([rows, neighbours.ravel()], 1), len(neighbours))


# --- step 2: coarse layout ------------------------------------------------------------------------

def _turned(grids: np.ndarray, turn: int) -> np.ndarray:
    """Layout grids (..., GRID, GRID) as they would be of the image turned (``family_match.turned``)."""
    out = np.rot90(grids, turn % 4, axes=(-2, -1))
    return out[..., ::-1] if turn >= 4 else out


def layout_scores(lay: np.ndarray, pairs: np.ndarray, same_window: tuple[int, ...] | None = None, chunk: int = 2048) -> np.ndarray:
    """(P, 8): for each pair (i, j) and turn t, the best similarity of any window of i with any window
    of j turned by t; with ``same_window``, only those windows each with itself (the whole image
    and its centre turn into themselves), which is cheaper."""
    windows = list(same_window) if same_window else list(range(len(WINDOWS)))
    out = np.empty((len(pairs), 8), np.float32)
    for start in range(0, len(pairs), chunk):
        i, j = pairs[start:start + chunk].T
        a = lay[i][:, windows].reshape(len(i), len(windows), -1)
        grids = lay[j][:, windows]  # gathered once, turned 8 times
        for t in range(8):
            b = _turned(grids, t).reshape(len(j), len(windows), -1)
            if same_window:
                sims = np.einsum("pwd,pwd->pw", a, b)
            else:
                sims = np.matmul(a, b.transpose(0, 2, 1))
            out[start:start + chunk, t] = sims.reshape(len(i), -1).max(1)
    return out


def _best_per_image(pairs: np.ndarray, score: np.ndarray, m: int) -> np.ndarray:
    """Mask of the pairs that are among the ``m`` best-scoring of either of their two images."""
    keep = np.zeros(len(pairs), bool)
    for side in (0, 1):
        order = np.lexsort((-score, pairs[:, side]))  # by image, best first
        image = pairs[order, side]
        rank = np.arange(len(image)) - np.searchsorted(image, image, side="left")
        keep[order[rank < m]] = True
    return keep


def candidate_pairs(hist: np.ndarray, lay: np.ndarray, neighbours: np.ndarray | None = None) -> np.ndarray:
    """Pairs worth the pairwise test: each image's CANDIDATES nearest by histograms, and of its
    HIST_CANDIDATES nearest (``neighbours``, when computed already) the CANDIDATES whose whole image
    or centre looks most alike under some turn."""
    neighbours = nearest(hist, HIST_CANDIDATES) if neighbours is None else neighbours
    pairs = as_pairs(neighbours)
    quick = layout_scores(lay, pairs, same_window=(0, 1)).max(1)
    return unique_pairs(np.concatenate([as_pairs(neighbours[:, :CANDIDATES]), pairs[_best_per_image(pairs, quick, CANDIDATES)]]), len(hist))


# --- step 3 and the groups ----------------------------------------------------------------------

TURN_GAP = 0.15  # turns whose coarse layout trails the best by more are not tried (copies rescued by them: gaps <= 0.14)
PYRAMIDS_KEPT = 256  # thumbnails kept ready between pairs (~50-400 KB each: 75 MB at most measured; 512 took 150 MB, no quicker)
CHECKS_PER_IMAGE = 4  # pairwise tests an image takes part in, likeliest first: halves the cost on look-alike scenes,
#                       which offer many candidates, for ~1 family in 300 (bench/families.py)
RETRY_GREY = 0.85  # a failed test whose grey levels agreed this well is tried the other way round (copies: 0.92 and up
#                    once aligned; other pictures rarely get here): ~1 family in 100 more found whole, 15 % more tests
MIN_LONE_LAYOUT = 0.6  # the second round (_lone_round) takes the candidate pairs of an image still alone from this coarse layout
LONE_FAMILIES = 3  # families found an image still alone is tested against, those of its likeliest candidates first
LONE_SIBLINGS = 3  # members of each tested, those most alike by layout first


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.sizes = [1] * n

    def size(self, k: int) -> int:
        return self.sizes[self.root(k)]

    def root(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def join(self, i: int, j: int) -> bool:
        ri, rj = self.root(i), self.root(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)  # the smallest index names the family
            self.sizes[min(ri, rj)] += self.sizes[max(ri, rj)]
        return ri != rj


def _inverse(turn: int) -> int:
    return (4 - turn) % 4 if turn < 4 else turn  # flips undo themselves


def _is_copy(a: Pyramid, b: Pyramid, scores: np.ndarray) -> bool:
    """The pairwise test, with ``scores`` ranking the turns of B onto A. It searches for the more
    textured centre (a flat one matches anywhere); when that comes close but fails, the other way
    round once more (a crop's centre may hold what the other's lacks)."""
    order = np.argsort(-scores, kind="stable")[:3]
    turns = [int(t) for t in order if scores[t] >= scores[order[0]] - TURN_GAP]
    if b.texture() > a.texture():
        a, b, turns = b, a, [_inverse(t) for t in turns]
    match = compare(a, b, turns)
    if match is None or match.is_copy:
        return match is not None
    if match.grey < RETRY_GREY:
        return False
    again = compare(b, a, [_inverse(t) for t in turns])
    return again is not None and again.is_copy


def content_links(descs: Sequence[Descriptor | None], joined: UnionFind | None = None, photos: Sequence[str | None] | None = None
                  ) -> list[tuple[int, int]]:
    """Pairs (i < j) of images found to be copies of one photo: enough of them to join every
    family found (a pair already joined through others, or in ``joined``, is not checked, nor a
    pair whose Roboflow names, ``photos``, say they come from two photos)."""
    known = [k for k, d in enumerate(descs) if d is not None]
    joined = joined if joined is not None else UnionFind(len(descs))
    if len(known) < 2:
        return []
    sub = features([descs[k] for k in known])  # computed by the import's checks already, else here
    lay = np.stack([d.layout for d in sub]).astype(np.float32)  # kept as float16, computed with as float32
    hist = np.stack([d.hist for d in sub])
    neighbours = nearest(hist, HIST_CANDIDATES)
    pairs = candidate_pairs(hist, lay, neighbours)
    if photos is not None:  # two Roboflow names of two photos: look-alikes at most (most of a named export's candidates)
        named = np.array([photos[k] for k in known], dtype=object)
        pairs = pairs[(named[pairs[:, 0]] == None) | (named[pairs[:, 1]] == None)]  # noqa: E711 (element-wise)
    scores = layout_scores(lay, pairs)
    best = scores.max(1)
    order = np.argsort(-best, kind="stable")
    order = order[best[order] >= MIN_COARSE_LAYOUT]  # likeliest first: their links make later checks unnecessary
    pyramids: OrderedDict[int, Pyramid] = OrderedDict()

    def pyramid(k: int) -> Pyramid:  # the most recently used: quick to build again
        if k in pyramids:
            pyramids.move_to_end(k)
        else:
            pyramids[k] = Pyramid(np.asarray(sub[k].grey), np.asarray(sub[k].chroma))
            if len(pyramids) > PYRAMIDS_KEPT:
                pyramids.popitem(last=False)
        return pyramids[k]

    links, checks, tried = [], np.zeros(len(sub), np.int64), set()

    def check(i: int, j: int, turn_scores: np.ndarray) -> None:
        checks[i] += 1
        checks[j] += 1
        tried.add((min(i, j), max(i, j)))
        if _is_copy(pyramid(i), pyramid(j), turn_scores):
            joined.join(known[i], known[j])
            links.append((min(known[i], known[j]), max(known[i], known[j])))

    for r in order:  # the first round: likeliest pairs first, a few tests per image
        i, j = (int(k) for k in pairs[r])
        if joined.root(known[i]) != joined.root(known[j]) and max(checks[i], checks[j]) < CHECKS_PER_IMAGE:
            check(i, j, scores[r])
    _lone_round(pairs, best, lay, known, joined, tried, check, neighbours[:, 0] if neighbours.shape[1] else None)
    return sorted(links)


def _lone_round(pairs: np.ndarray, best: np.ndarray, lay: np.ndarray, known: list[int], joined: UnionFind, tried: set, check,
                first: np.ndarray | None) -> None:
    """The second round: an image still alone whose candidates include a member of a family found
    is tested against that family's members most alike by layout (a copy that failed the test with
    one sibling, a crop or a turn too far, often passes it with another); two images still alone,
    each the other's nearest by histograms (``first``), are tested if the first round's cap kept
    them apart. Look-alike scenes, where every image is alone, cost a test per such pair."""
    members: dict[int, list[int]] = {}
    for i, a in enumerate(known):
        members.setdefault(joined.root(a), []).append(i)
    alone = {i for i, a in enumerate(known) if joined.size(a) == 1}
    offers: dict[int, list[tuple[float, int]]] = {}
    for r in np.flatnonzero(best >= MIN_LONE_LAYOUT):
        i, j = (int(k) for k in pairs[r])
        for lone, other in ((i, j), (j, i)):
            if lone in alone and other not in alone:
                offers.setdefault(lone, []).append((float(best[r]), other))
    mutual = [(i, int(first[i])) for i in sorted(alone) if first is not None and i < first[i] and first[i] in alone
              and first[first[i]] == i and (i, int(first[i])) not in tried]
    if mutual:
        turn_scores = layout_scores(lay, np.array(mutual))
        for (i, j), scores in zip(mutual, turn_scores):
            if scores.max() >= MIN_COARSE_LAYOUT:  # as in the first round: most look-alikes stop here
                check(i, j, scores)
    for lone in sorted(offers):
        families = []
        for _, other in sorted(offers[lone], reverse=True):
            if joined.root(known[other]) not in families:
                families.append(joined.root(known[other]))
        for root in families[:LONE_FAMILIES]:
            if joined.size(known[lone]) > 1:
                break
            siblings = [m for m in members[root] if (min(lone, m), max(lone, m)) not in tried]
            if not siblings:
                continue
            turn_scores = layout_scores(lay, np.array([[lone, m] for m in siblings]))
            for k in np.argsort(-turn_scores.max(1), kind="stable")[:LONE_SIBLINGS]:
                check(lone, siblings[k], turn_scores[k])
                if joined.size(known[lone]) > 1:
                    break


def _grouped(joined: UnionFind, links: list[tuple[int, int, str]], content: bool) -> Families:
    keys = [joined.root(k) for k in range(len(joined.parent))]
    members: dict[int, list[int]] = {}
    for k, key in enumerate(keys):
        members.setdefault(key, []).append(k)
    return Families(sorted(g for g in members.values() if len(g) > 1), keys, links, content)


def find_families(items: Sequence[Path | Descriptor | None], names: Sequence[str] | None = None, content: bool = True) -> Families:
    """Families among ``items`` (paths, or descriptors already computed; None: unreadable).
    ``names`` (default: the paths' names) join copies by Roboflow's naming; ``content=False``
    skips the content test."""
    if names is None:
        names = [p.name if isinstance(p, Path) else "" for p in items]
    joined = UnionFind(len(items))
    links: list[tuple[int, int, str]] = []
    first: dict[str, int] = {}
    photos = [name_key(name) for name in names]
    for k, key in enumerate(photos):
        if key is not None:
            if key in first:
                links.append((first[key], k, "name"))
                joined.join(first[key], k)
            first.setdefault(key, k)
    if content:
        descs = [describe_file(p) if isinstance(p, Path) else p for p in items]
        links += [(i, j, "content") for i, j in content_links(descs, joined, photos)]
    return _grouped(joined, sorted(links), content)


def crossing(found: Families, splits: Sequence[str | None]) -> list[tuple[list[int], tuple[int, int]]]:
    """The families whose members sit in more than one split, each with one pair to show: two of
    its images on different splits, the first link found between two such when there is one."""
    direct: dict[int, tuple[int, int]] = {}
    for i, j, _ in found.links:
        if splits[i] != splits[j]:
            direct.setdefault(found.keys[i], (i, j))
    out = []
    for group in found.groups:
        first = group[0]
        other = next((k for k in group if splits[k] != splits[first]), None)
        if other is not None:
            out.append((group, direct.get(found.keys[first], (first, other))))
    return out
