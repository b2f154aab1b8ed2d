"""Is image B an augmented copy of image A? The pairwise test behind ``families``.

Two copies of one photo differ by one of the 8 flips/quarter turns, a crop that keeps >= 60 % of
the area resized back (a scale of 0.78-1.29 between them, and a shift), and brightness, contrast
and saturation jitter. On the thumbnails of ``families.Descriptor`` the test undoes each in turn:

1. the turn: the caller ranks the 8 turns by coarse layout; the likely ones (up to 3) are tried in order;
2. scale and shift: A's central half, which every such crop keeps, is found in B by normalised
   cross-correlation (``cv2.matchTemplate``, blind to brightness and contrast) at 7 scales on
   32 px thumbnails, then refined at 64 px (and at 128 px when the verdict is close);
3. the verdict, with B warped onto A at 128 px: tile by tile (16x16 px), SSIM's structure term
   over the tiles with texture, each weighted by how two-dimensional its structure is (a tile
   with one straight edge, a horizon, fits its like anywhere along the edge); the grey levels
   over the whole overlap; and the colours (Cb, Cr correlated: jitter only scales them). Copies
   agree everywhere; look-alikes (the demo set's workers drawn the same way on the same kind of
   wall) agree in the big shapes only, and rarely in colour.

The thresholds (RULES) were read off the generated copies and look-alikes of bench/families.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIZE = 128  # grey thumbnail side: 16 px tiles resolve brick joints and gravel, which tell look-alikes apart
CHROMA = 32  # colour thumbnail side: a tile of 16 px at 128 is 4 px here
SCALES = np.exp(np.linspace(np.log(0.775), np.log(1.29), 7))  # B's scale relative to A: crops keep >= 60 % of the area
REFINE_STEPS = (0.965, 1.0, 1.035)  # scales tried at 64 px around the coarse one (then interpolated)
CENTRE = (8, 16)  # offset and side of A's central template at 32 px (x2 at 64, x4 at 128): its central half, which
#                   copies nearly always share (42 % in the worst case, opposite corner crops keeping 60 %; 44 % tested worse)
TILE = 16
BLUR = 1.2  # softening (px at 128) before the verdict: a copy zoomed in by its crop is softer than its sibling
MIN_TEXTURE = 3.0  # grey levels of spread (after the softening) that make a tile count: flat sky and JPEG noise decide nothing
MIN_TILES = 8  # fewer textured tiles than this: too little to tell a copy from a look-alike
MIN_OVERLAP = 0.4  # crops keeping >= 60 % of the area overlap by >= ~45 %: less is another picture
# A copy meets one of these. Read off bench/families.py's sets (~2,400 candidate pairs of copies, ~17,000 of other
# pictures, among them 4 demo sets of look-alike site scenes): 95 % of the copies pass, no other picture does.
# "evidence": the textured tiles, each counted by how two-dimensional its structure is; two skies over a horizon
# agree perfectly with evidence ~0-0.5, so evidence bounds every rule. "colour": the correlation of Cb, Cr (a
# shared blue sky says little), blind to saturation, brightness and contrast, which scale the chroma.
#   evidence, tile agreement, grey correlation, colour correlation, grey correlation when either image is grey
RULES = (
    (2.0, 0.70, 0.92, 0.88, 0.92),  # the common case
    (2.0, 0.55, 0.96, 0.93, 0.97),  # fine texture (noise, gravel) resampled differently while the whole agrees closely
    (0.8, 0.80, 0.98, 0.93, 0.985),  # little texture (one worker on a plain wall): only near-identical pictures
)
MIN_GREY, MIN_COLOUR = min(r[2] for r in RULES), min(r[3] for r in RULES)  # below these nothing can pass: stop early
COLOURLESS = 4.0  # RMS chroma (Cb, Cr) below which an image counts as grey: its colour says nothing
MIN_COARSE = 0.65  # copies score >= 0.69 in the 32 px search at the right turn; below, the turn is not tried further
MIN_REFINED = 0.8  # ... and >= 0.82 at 64 px
RETRY = 0.3  # no copy at 64 px alignment but a tile agreement above this: align again at 128 px and look once more
GREY_SLACK = 0.03  # ... when the grey levels are within this of MIN_GREY (a better alignment raises them a little)


@dataclass
class Match:
    """How B maps onto A, and how well: turn, B's scale relative to A, and where A's central half
    lies in B scaled (its top-left, in 128 px)."""

    turn: int
    scale: float
    loc: tuple[float, float]
    agreement: float = -1.0
    tiles: int = 0
    evidence: float = 0.0  # textured tiles counted by how two-dimensional they are (one straight edge: ~0)
    overlap: float = 0.0
    grey: float = -1.0
    colour: float | None = None  # None when either image is (nearly) grey

    @property
    def is_copy(self) -> bool:
        if self.tiles < MIN_TILES or self.overlap < MIN_OVERLAP:
            return False
        return any(self.evidence >= evidence and self.agreement >= agreement
                   and (self.grey >= grey_alone if self.colour is None else self.grey >= grey and self.colour >= colour)
                   for evidence, agreement, grey, colour, grey_alone in RULES)


def turned(a: np.ndarray, turn: int) -> np.ndarray:
    """Turn ``turn`` of the 8: ``turn % 4`` quarter turns counter-clockwise, then a left-right flip when >= 4."""
    b = np.rot90(a, turn % 4)
    return np.ascontiguousarray(b[:, ::-1] if turn >= 4 else b)


def _strip_layout() -> tuple[list[int], np.ndarray, np.ndarray]:
    """Widths of B at each of SCALES (32 px), side by side in one strip; which positions of A's
    central template lie wholly inside one of them, and the scale index of each column."""
    widths, t = [int(round(32 * f)) for f in SCALES], CENTRE[1]
    valid = np.zeros((max(widths) - t + 1, sum(widths) - t + 1), bool)
    which = np.zeros(sum(widths) - t + 1, np.int64)
    x = 0
    for k, w in enumerate(widths):
        valid[:w - t + 1, x:x + w - t + 1] = True
        which[x:x + w - t + 1] = k
        x += w
    return widths, valid, which


STRIP_WIDTHS, STRIP_VALID, STRIP_SCALE = _strip_layout()


class Pyramid:
    """One image's thumbnails as the test uses them: grey at 32, 64 and 128 px (float32, lightly
    blurred), grey at 128 px softened for the verdict (``at(0)``), colour at 32 px; turned on demand."""

    def __init__(self, grey: np.ndarray, chroma: np.ndarray) -> None:
        self._grey, self._chroma = grey, chroma
        self.levels: dict[int, np.ndarray] = {}  # made on first use: most pairs are settled at 32 or 64 px
        self.colourless = float(np.sqrt(np.mean(chroma.astype(np.float32) ** 2))) < COLOURLESS
        self._turned: dict[tuple[int, int], np.ndarray] = {}
        self._strips: dict[int, np.ndarray] = {}

    def _level(self, size: int) -> np.ndarray:
        if size not in self.levels:
            if size == SIZE:
                made = cv2.GaussianBlur(self._grey.astype(np.float32), (0, 0), 1.0)
            elif size == 0:  # "size 0": the 128 px level softened for the verdict
                made = cv2.GaussianBlur(self._level(SIZE), (0, 0), BLUR)
            elif size == -1:  # "size -1": the colour, Cb and Cr
                made = self._chroma.astype(np.float32)
            else:
                made = cv2.resize(self._level(size * 2), (size, size), interpolation=cv2.INTER_AREA)
            self.levels[size] = made
        return self.levels[size]

    def at(self, size: int, turn: int = 0) -> np.ndarray:
        if turn == 0:
            return self._level(size)
        key = (size, turn)
        if key not in self._turned:
            self._turned[key] = turned(self._level(size), turn)
        return self._turned[key]

    def strip(self, turn: int) -> np.ndarray:
        """The 32 px thumbnail turned, at each of SCALES, side by side (kept: an image meets several others)."""
        if turn not in self._strips:
            out = np.zeros((max(STRIP_WIDTHS), sum(STRIP_WIDTHS)), np.float32)
            x = 0
            for w in STRIP_WIDTHS:
                out[:w, x:x + w] = cv2.resize(self.at(32, turn), (w, w), interpolation=cv2.INTER_LINEAR)
                x += w
            self._strips[turn] = out
        return self._strips[turn]

    def tensor(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per tile structure tensor of the softened 128 px level, unturned (kept: A of many pairs)."""
        if not hasattr(self, "_tensor"):
            self._tensor = _tensor(self._level(0))
        return self._tensor

    def texture(self) -> float:
        """Spread of the central half at 32 px: a flat centre cannot be searched for."""
        return float(_centre(self._level(32)).std())


def _centre(img: np.ndarray) -> np.ndarray:
    k = img.shape[0] // 32
    offset, side = CENTRE[0] * k, CENTRE[1] * k
    return img[offset:offset + side, offset:offset + side]


def _coarse(a: Pyramid, b: Pyramid, turn: int) -> tuple[float, float, tuple[int, int]]:
    """Best (score, scale, location) of A's central half in B turned, over SCALES, at 32 px: one
    ``matchTemplate`` over B's strip of scales."""
    corr = np.where(STRIP_VALID, cv2.matchTemplate(b.strip(turn), _centre(a.at(32)), cv2.TM_CCOEFF_NORMED), -2.0)
    y, x = np.unravel_index(int(np.argmax(corr)), corr.shape)
    k = int(STRIP_SCALE[x])
    return float(corr[y, x]), STRIP_WIDTHS[k] / 32, (int(x - sum(STRIP_WIDTHS[:k])), int(y))


def _refine(a: Pyramid, b: Pyramid, turn: int, size: int, scale: float, loc: tuple[float, float], steps: tuple[float, ...],
            reach: int = 4) -> tuple[float, float, tuple[float, float]]:
    """Search scales ``scale * steps`` and shifts within ``reach`` px around ``loc`` (found at size/2)
    at ``size`` px; returns the best score, its scale and location (to a fraction of a pixel)."""
    template = _centre(a.at(size))
    bt = b.at(size, turn)
    side = template.shape[0] + 2 * reach
    tried = []
    for step in steps:
        f = scale * step
        # the window of B scaled by f around the location from the coarser level (x2, and x step: the
        # top-left moves with the scale), cut and scaled by one warp instead of scaling all of B
        x0, y0 = int(round(2 * loc[0] * step)) - reach, int(round(2 * loc[1] * step)) - reach
        warp = np.array([[1 / f, 0, (x0 + 0.5) / f - 0.5], [0, 1 / f, (y0 + 0.5) / f - 0.5]], np.float32)
        window = cv2.warpAffine(bt, warp, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        corr = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, score, _, (px, py) = cv2.minMaxLoc(corr)
        tried.append((score, f, (x0 + px + _subpixel(corr[py, :], px), y0 + py + _subpixel(corr[:, px], py))))
    k = max(range(len(tried)), key=lambda i: tried[i][0])
    score, f, where = tried[k]
    if len(steps) == 3 and k == 1:  # the scale between the steps, where a parabola through the 3 scores peaks
        ratio = float(np.exp(_subpixel(np.array([t[0] for t in tried]), 1) * np.log(steps[2] / steps[1])))
        where, f = (where[0] * ratio, where[1] * ratio), f * ratio
    return score, f, where


def _subpixel(line: np.ndarray, k: int) -> float:
    """Offset of a parabola's top through the peak and its two neighbours (0 at an edge)."""
    if 0 < k < len(line) - 1:
        left, mid, right = float(line[k - 1]), float(line[k]), float(line[k + 1])
        denom = left - 2 * mid + right
        if denom < 0:
            return float(np.clip(0.5 * (left - right) / denom, -0.5, 0.5))
    return 0.0


def _tile_means(x: np.ndarray) -> np.ndarray:
    """The mean of each TILE x TILE tile (INTER_AREA at an exact divisor)."""
    return cv2.resize(x, (x.shape[1] // TILE, x.shape[0] // TILE), interpolation=cv2.INTER_AREA)


def _tensor(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per tile, the structure tensor (gx², gy², gx·gy averaged)."""
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)
    return _tile_means(gx * gx), _tile_means(gy * gy), _tile_means(gx * gy)


def _two_d(ta: tuple, tb: tuple) -> np.ndarray:
    """Per tile, how two-dimensional the structure of A and B together is: the smaller over the
    larger eigenvalue of their summed structure tensor (0 for one straight edge, ~1 for texture)."""
    sxx, syy, sxy = (x + y for x, y in zip(ta, tb))
    mean, half_gap = (sxx + syy) / 2, np.hypot((sxx - syy) / 2, sxy)
    return (mean - half_gap) / (mean + half_gap + 1e-9)


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x.ravel() - x.mean(), y.ravel() - y.mean()
    return float(x @ y / (np.sqrt((x @ x) * (y @ y)) + 1e-9))


def _verdict(a: Pyramid, b: Pyramid, turn: int, scale: float, loc: tuple[float, float]) -> Match:
    """Warp B (turned) onto A at 128 px by ``scale`` and ``loc``, and measure how well they agree."""
    match = Match(turn, scale, loc)
    c, f, (u, v) = CENTRE[0] * SIZE // 32, scale, loc
    # A's pixel x sits at x - c + u in B scaled by f, i.e. at (x - c + u + 0.5) / f - 0.5 in B (pixel
    # centres). B's pixels 0..SIZE-1 thus cover A's lo..hi: a rectangle, as the warp only scales and shifts.
    warp = np.array([[1 / f, 0, (u - c + 0.5) / f - 0.5], [0, 1 / f, (v - c + 0.5) / f - 0.5]], np.float32)
    lo = np.array([c - u - 0.5 + 0.5 * f, c - v - 0.5 + 0.5 * f])
    hi = lo + (SIZE - 1) * f
    first, last = np.maximum(np.ceil(lo), 0).astype(int), np.minimum(np.floor(hi), SIZE - 1).astype(int)
    match.overlap = float(np.prod(np.maximum(last - first + 1, 0))) / SIZE**2
    if match.overlap < MIN_OVERLAP:
        return match
    ga = a.at(0)
    gb = cv2.warpAffine(b.at(0, turn), warp, (SIZE, SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    inside = (slice(first[1], last[1] + 1), slice(first[0], last[0] + 1))
    match.grey = _correlation(ga[inside], gb[inside])
    if match.grey < MIN_GREY - GREY_SLACK:  # the cheap tests first: most look-alikes stop here
        return match
    if not (a.colourless or b.colourless):  # the same warp at 32 px (x/4, pixel centres kept)
        warp32 = np.array([[1 / f, 0, (2 - c + u) / 4 / f - 0.5], [0, 1 / f, (2 - c + v) / 4 / f - 0.5]], np.float32)
        cb = cv2.warpAffine(b.at(-1, turn), warp32, (CHROMA, CHROMA), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
        f32, l32 = (first + 3) // 4, (last + 1) // 4 - 1  # 32 px pixels wholly inside the overlap
        inside32 = (slice(f32[1], l32[1] + 1), slice(f32[0], l32[0] + 1))
        x, y = a.at(-1)[inside32].reshape(-1, 2), cb[inside32].reshape(-1, 2)
        x, y = (x - x.mean(0)).ravel(), (y - y.mean(0)).ravel()  # a shared blue sky says little: its mean goes
        match.colour = float(x @ y / (np.sqrt((x @ x) * (y @ y)) + 1e-9))  # blind to saturation, which scales both
        if match.colour < MIN_COLOUR:
            return match
    t_first, t_last = (first + TILE - 1) // TILE, (last + 1) // TILE - 1  # tiles wholly inside the overlap
    whole = np.zeros((SIZE // TILE, SIZE // TILE), bool)
    whole[t_first[1]:t_last[1] + 1, t_first[0]:t_last[0] + 1] = True
    ma, mb = _tile_means(ga), _tile_means(gb)
    va, vb = _tile_means(ga * ga) - ma**2, _tile_means(gb * gb) - mb**2
    cov = _tile_means(ga * gb) - ma * mb
    textured = whole & (np.maximum(va, vb) > MIN_TEXTURE**2)
    match.tiles = int(textured.sum())
    if match.tiles:  # SSIM's structure term: blind to each tile's brightness and contrast, as jitter is
        weight = _two_d(a.tensor(), _tensor(gb))[textured]
        match.evidence = float(weight.sum())
        match.agreement = float(np.sum(weight * 2 * cov[textured] / (va[textured] + vb[textured])) / (match.evidence + 1e-9))
    return match


def compare(a: Pyramid, b: Pyramid, turns: list[int]) -> Match | None:
    """The best match of B onto A among ``turns`` (tried in order, stopping at the first copy);
    None when no turn comes close. ``Match.is_copy`` is the verdict."""
    best = None
    for turn in turns:
        score, scale, loc = _coarse(a, b, turn)
        if score < MIN_COARSE:
            continue
        score, scale, loc = _refine(a, b, turn, 64, scale, loc, REFINE_STEPS)
        if score < MIN_REFINED:
            continue
        match = _verdict(a, b, turn, scale, (2 * loc[0], 2 * loc[1]))  # 64 px alignment: enough for ~98 % of copies
        if not match.is_copy and match.agreement >= RETRY:  # close (it passed the grey and colour tests to get here)
            _, scale, loc = _refine(a, b, turn, SIZE, scale, loc, (0.99, 1.0, 1.01), reach=3)
            match = _verdict(a, b, turn, scale, loc)
        if best is None or match.agreement > best.agreement:
            best = match
        if match.is_copy:
            break
    return best
