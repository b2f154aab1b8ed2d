"""Train/val splits: the source's when it has them, else a seeded split stratified by class that
keeps each family of augmented copies (``families``) on one side.

A source with no families splits exactly as it did before families existed, for the same seed
(notebooks promise the same numbers): every image is its own unit and the same code runs.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence

from yolov11.data.source import Sample
from yolov11.errors import UserError

MAX_FAMILY_SHARE = 0.5  # one family holding more of the images than this (frames of one static camera chain into one):
#                         split image by image instead, with a warning, as one side could not be made of whole families


def check_fraction(val_fraction: float) -> None:
    if not 0.0 < val_fraction < 1.0:
        raise UserError(field="--val-fraction", value=val_fraction, detail="must be between 0 and 1 (exclusive)")


def assign_splits(samples: list[Sample], val_fraction: float, seed: int, families: Sequence[int] | None = None,
                  warnings: list[str] | None = None) -> str:
    """Keep the source's splits when it has train and val; else a seeded split stratified by class.

    Each image (or each family: ``families`` gives each sample its family's number, a lone image
    its own) joins the group of its rarest class (backgrounds form a group of their own) and every
    group gives ``val_fraction`` of its images to val, so rare classes reach val too. A source
    test split stays test. Returns how the split was made, for the report; ``warnings`` gains a
    line when the families could not be kept whole.
    """
    have = {s.split for s in samples}
    if "train" in have and "val" in have:
        for s in samples:
            s.split = s.split or "train"
        return "from the source"
    check_fraction(val_fraction)
    only_val = "val" in have and "train" not in have
    if only_val:  # a source with a val split alone (COCO's instances_val2017): split it into train and val
        for s in samples:
            s.split = None if s.split == "val" else s.split
    how = split_pool(samples, val_fraction, seed, families, warnings)
    return f"the source has a val split only: {how}" if only_val else how


def _units(samples: list[Sample], pool: list[int], families: Sequence[int] | None) -> list[list[int]]:
    """The pool's images in units split whole: a family (its members in the pool), or one image."""
    if families is None:
        return [[k] for k in pool]
    by_family: dict[int, list[int]] = {}
    for k in pool:
        by_family.setdefault(families[k], []).append(k)
    return list(by_family.values())  # in the order of each family's first member


def split_pool(samples: list[Sample], val_fraction: float, seed: int, families: Sequence[int] | None = None,
               warnings: list[str] | None = None) -> str:
    """Split the samples with no split or in train (a test split stays test) into train and val."""
    pool = [k for k, s in enumerate(samples) if s.split in (None, "train")]
    units = _units(samples, pool, families)
    largest = max(map(len, units), default=0)
    if largest > 1 and largest > MAX_FAMILY_SHARE * len(pool):
        if warnings is not None:
            warnings.append(f"one family of look-alike images holds {largest} of {len(pool)} images (frames of one scene?): "
                            "split image by image, so validation images have near-copies in train")
        units = [[k] for k in pool]
    freq = Counter(int(c) for k in pool for c in samples[k].boxes[:, 0])
    groups: dict[int, list[list[int]]] = defaultdict(list)
    for unit in units:
        classes = {int(c) for k in unit for c in samples[k].boxes[:, 0]}
        groups[min(classes, key=lambda c: (freq[c], c)) if classes else -1].append(unit)
    rng = random.Random(seed)
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        if all(len(u) == 1 for u in members):  # as before families: the first round(n * fraction) go to val
            n_val = round(len(members) * val_fraction)
            for rank, (k,) in enumerate(members):
                samples[k].split = "val" if rank < n_val else "train"
            continue
        want, got = round(sum(map(len, members)) * val_fraction), 0
        for unit in members:  # a family goes to val while that overshoots the group's share by less than half of it
            to_val = got + len(unit) / 2 <= want
            got += len(unit) if to_val else 0
            for k in unit:
                samples[k].split = "val" if to_val else "train"
    if pool and not any(samples[k].split == "val" for k in pool) and len(pool) > 1:
        smallest = min(units, key=len)  # tiny sources: at least one validation image (a family whole)
        for k in smallest if len(smallest) < len(pool) else smallest[:1]:
            samples[k].split = "val"
    how = f"seeded split stratified by class (val fraction {val_fraction}, seed {seed})"
    kept = [u for u in units if len(u) > 1]
    if kept:
        how = (f"seeded split stratified by class, each family of augmented copies kept on one side "
               f"({len(kept)} families of {sum(map(len, kept))} images; val fraction {val_fraction}, seed {seed})")
    return how
