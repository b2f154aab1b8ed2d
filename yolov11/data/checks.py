"""Image health checks of an import: readable, not a pixel bomb, not truncated, EXIF rotation,
content hashes for exact (SHA-1) and near (perceptual hash) duplicates, and the descriptor the
search for augmented families compares (``families``).

``inspect_image`` reads each file once (the importer runs it in a thread pool: PIL and hashlib
release the GIL). JPEGs are decoded at reduced scale without colour conversion (PIL's draft mode:
1/4 for 640x480): the Y plane gives the hash, Y and the chroma planes the family descriptor,
about 0.7 ms for a 640x480 image. ``find_duplicates`` groups exact copies and finds near copies with
LSH banding on the 64-bit hash, so it stays fast on 100k images.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from yolov11.data.family_features import DRAFT, Descriptor, describe

MAX_PIXELS = 100_000_000  # 10k x 10k: larger "photos" are decompression bombs, not training data
NEAR_DISTANCE = 4  # pHash bits that may differ for a "near duplicate" (re-encodes, resizes, small edits)
EXIF_ORIENTATION = 0x0112
MAX_BUCKET = 200  # images sharing one LSH band value beyond which pairs are not compared


@dataclass
class ImageInfo:
    width: int = 0
    height: int = 0
    problem: str | None = None  # why it cannot be used; None when fine
    truncated: bool = False  # a JPEG cut short: re-saved whole when imported
    exif_rotated: bool = False
    sha1: str = ""
    phash: int = 0
    family: Descriptor | None = None  # what the family search compares (None: not computed, or unreadable)


def _phash(im: Image.Image) -> int:
    """64-bit perceptual hash: signs of the 8x8 lowest frequencies (DCT) of a 32x32 grey thumbnail
    against their median. Re-encoding or resizing moves a few bits at most; other pictures ~30."""
    grey = im if im.mode == "L" else im.convert("L")  # a JPEG in draft mode decodes grey already
    small = np.frombuffer(grey.resize((32, 32), Image.Resampling.BILINEAR).tobytes(), np.uint8).reshape(32, 32).astype(np.float32)
    low = cv2.dct(small)[:8, :8]
    middle = np.partition(low, (31, 32), axis=None)  # np.median's own steps, without its overhead
    return int(np.packbits(low > (middle[31] + middle[32]) / 2).view(">u8")[0])


def inspect_image(path: Path, family: bool = True) -> ImageInfo:
    """The checks of one image file; ``family``: its family descriptor too."""
    info = ImageInfo()
    try:
        data = path.read_bytes()
        info.sha1 = hashlib.sha1(data).hexdigest()
        with Image.open(io.BytesIO(data)) as im:  # the bytes in hand: no second open of the file
            info.width, info.height = im.size
            if info.width * info.height > MAX_PIXELS:
                info.problem = f"{info.width}x{info.height} pixels exceed the cap of {MAX_PIXELS:,} (decompression bomb?)"
                return info
            info.exif_rotated = im.getexif().get(EXIF_ORIENTATION, 1) not in (0, 1)
            info.truncated = im.format == "JPEG" and not data.rstrip(b"\x00").endswith(b"\xff\xd9")
            if not info.truncated:  # a truncated file is re-saved on import; it goes unhashed
                # JPEG only: decode at the smallest of 1/2, 1/4, 1/8 keeping DRAFT px a side, in YCbCr (no colour conversion)
                im.draft("YCbCr" if family else "L", (DRAFT, DRAFT))
                info.phash = _phash(im.getchannel(0) if im.mode == "YCbCr" else im)
                info.family = describe(im) if family else None
    except Image.DecompressionBombError as exc:  # Pillow's own cap (~179 Mpx) fires before ours can read the size
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found.group(1)):,} pixels" if found else "more pixels than Pillow allows"
        info.problem = f"{pixels} exceed the cap of {MAX_PIXELS:,} (decompression bomb?)"
    except (UnidentifiedImageError, ImportError):  # Ultralytics' Image.open patch turns "unknown format" into an ImportError (pi_heif)
        info.problem = "not an image file (or a format Pillow cannot read)"
    except Exception as exc:  # decoders raise many types: all mean unusable
        info.problem = f"unreadable image ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
    return info


def resave_whole(src: Path, dest: Path) -> None:
    """Decode a truncated JPEG as far as it goes and write it whole, as Ultralytics does."""
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with Image.open(src) as im:
            im.convert("RGB").save(dest, "JPEG", quality=95)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def find_duplicates(infos: list[ImageInfo]) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """(groups of indices with identical bytes, pairs of near-identical images that are not exact)."""
    by_sha: dict[str, list[int]] = defaultdict(list)
    for i, info in enumerate(infos):
        if info.sha1:
            by_sha[info.sha1].append(i)
    exact = [g for g in by_sha.values() if len(g) > 1]
    same = {i: g[0] for g in exact for i in g}
    # Pigeonhole: two hashes within 4 bits agree exactly on at least one of 5 bands of ~13 bits.
    bands: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, info in enumerate(infos):
        if info.sha1 and not info.problem and not info.truncated and same.get(i, i) == i:
            for b, shift in enumerate((0, 13, 26, 39, 52)):
                bands[(b, (info.phash >> shift) & 0x1FFF)].append(i)
    near = set()
    for members in bands.values():
        if len(members) > MAX_BUCKET:  # flat or blank images all share bands; other bands still pair real copies
            continue
        for a, b in combinations(members, 2):
            if bin(infos[a].phash ^ infos[b].phash).count("1") <= NEAR_DISTANCE:
                near.add((a, b))
    return exact, sorted(near)
