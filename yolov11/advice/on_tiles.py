"""The small-objects action: train on tiles, predict tile by tile. Objects under 32 px as the model
sees them (the image shrunk to the run's imgsz) in images larger than that input get their own
pixels back from tiles; objects small in the image itself gain nothing from tiles, and none is
proposed for them.

Retrained with the same recipe on the tiles, a run gains in two ways, and the estimate adds both:

- **steps**: an epoch over the tiles is k times the images of an epoch over the frames (k: the
  tiles ``tile_dataset`` writes per val image, from the val boxes), so the same epochs make k times
  the training steps. The learning curve says what they buy as ``train_longer`` reads it
  (on_curves.pace): log2(k) doublings at its gain a doubling, at most half the gap to 1; nothing
  where the curve has flattened.
- **pixels**: TIDE's oracle restricted to the objects missed, misplaced or misclassified that are
  under 32 px as the model sees them (AP50, x this run's mAP50-95 / mAP50).

On the bench's yard (helmets 11-29 px in 960x540 frames, trained 25 epochs at 320): the pixels
alone said +0.05 to +0.065 and a model trained on the tiles gained +0.725; the tiles are about 6
to a frame, and the 6 times the steps were most of it (the run's own curve still rose 0.016 an
epoch at epoch 25; twice its epochs measured +0.194). Not used as an estimate: this model predicting tile by tile (it scored 0.053 mAP50-95
against 0.057 in one pass there): a model trained on shrunk frames does not find the objects at
their own size, so it cannot stand in for one trained on tiles.
"""

from __future__ import annotations

import math

import numpy as np

from yolov11.advice.by_size import recall_by_size, shrink
from yolov11.advice.evidence import Evidence
from yolov11.advice.on_curves import pace
from yolov11.advice.on_errors import action
from yolov11.codegen.snippets import shell_command
from yolov11.data.tiles import OVERLAP, tiles_written

SHRUNK = 0.83  # an image shrunk to under this share of its side to reach the model's input: tiles give its objects pixels back
SMALL = 32  # px as the model sees it: COCO's small


def tiles_per_image(gt_doc: dict, size: int) -> float:
    """The tiles ``tile_dataset`` would write per image of this split (its images and boxes)."""
    boxes: dict[int, list] = {im["id"]: [] for im in gt_doc["images"]}
    for a in gt_doc["annotations"]:
        x, y, w, h = a["bbox"]
        boxes.setdefault(a["image_id"], []).append([a["category_id"], x, y, x + w, y + h])
    images = [(int(im["width"]), int(im["height"]), np.array(boxes[im["id"]], float).reshape(-1, 5)) for im in gt_doc["images"]
              if im.get("width") and im.get("height")]
    return tiles_written(images, size, OVERLAP) / len(images) if images else 1.0


def small_objects(ev: Evidence) -> dict | None:
    size = int((ev.record.get("settings") or {}).get("imgsz") or 640)
    scale = shrink(ev.gt_doc, size)

    def shrunk_small(r: dict) -> bool:
        s = scale.get(r["image_id"], 1.0)
        return (r["kind"] in ("missed", "localisation", "classification") and r["object"] is not None and s < SHRUNK
                and (r["area"] ** 0.5) * s < SMALL)

    errors = sum(shrunk_small(r) for r in ev.errors)
    if not errors:
        return None
    pixels50 = ev.oracle_gain(shrunk_small)
    k = tiles_per_image(ev.gt_doc, size)
    rising = pace(ev)
    steps = min(rising["per_doubling"] * math.log2(k), rising["room"]) if rising and k > 1 else 0.0
    now = ev.evaluation["metrics"].get("mAP50-95") or 0.0
    gain = min(steps + pixels50 * ev.ratio, 1.0 - now)
    at640 = (ev.report.get("box_pixels") or {}).get("640") or {}
    sizes = recall_by_size(ev.gt_doc, ev.analysis, size)
    evidence = {"errors_on_small": errors, "imgsz": size, "shrink": round(1 / min(scale.values()), 2), "recall_by_size": sizes,
                "tiles_per_image": round(k, 2), "steps_gain": round(steps, 4), "pixels_gain": round(pixels50 * ev.ratio, 4),
                "missed_by_size": ev.breakdown["by_size"]["false_negatives"], "under_10px_at_640": at640.get("under_10px")}
    said_steps = (f"{k:.1f} tiles a frame make an epoch {k:.1f}x the steps: {math.log2(k):.1f} doublings at +{rising['per_doubling']:.3f} "
                  f"each by the learning curve (as train_longer reads it), at most half the gap to 1: +{steps:.3f}"
                  if rising and k > 1 else f"{k:.1f} tiles a frame, no more steps than the frames" if rising
                  else f"{k:.1f} tiles a frame, but the learning curve has flattened: more steps add nothing")
    how = (f"the same recipe on tiles gains in steps and in pixels. Steps: {said_steps}. Pixels: the TIDE oracle restricted to the "
           f"{errors} objects missed, misplaced or misclassified that are under {SMALL} px once the image is shrunk to imgsz {size} (up to "
           f"{evidence['shrink']}x): {pixels50:.3f} AP50, x {ev.ratio:.2f} = +{pixels50 * ev.ratio:.3f}. As the model sees them, it "
           "finds " + ", ".join(f"{r['recall']:.0%} of the objects at {r['px']} px" for r in sizes) + ". Rough: each epoch takes about "
           f"{k:.1f}x as long; the pixels part only counts the errors fixed, not the better boxes a larger view gives (the bench's yard: "
           "+0.515 predicted, +0.719 measured)")
    return action("small_objects", "Small objects: train on tiles, predict tile by tile", gain, how, evidence,
                  shell_command("tile", data=ev.dataset, size=size, overlap=OVERLAP, advice=f"{ev.run}:small_objects"))
