"""Actions read from the data and the learning curves: label more of a class, train longer,
regularise, re-split. Each returns an action or None (see on_errors.py)."""

from __future__ import annotations

import math

import numpy as np

from yolov11.advice.evidence import Evidence
from yolov11.advice.on_errors import EXAMPLES, action
from yolov11.codegen.snippets import shell_command

PER_DOUBLING = 0.05  # AP50-95 a class gains when its train boxes double: a rule of thumb where the classes cannot say
STILL_RISING = 0.002  # mAP50-95 per epoch over the last epochs that counts as still improving
LOSSES = ("box_loss", "cls_loss", "dfl_loss")


def _slope(values: list[float]) -> float:
    return float(np.polyfit(np.arange(len(values)), values, 1)[0]) if len(values) >= 2 else 0.0


def more_data(ev: Evidence) -> dict | None:
    counts = ev.train_boxes()
    ap = {c["class"]: c["mAP50-95"] for c in ev.evaluation["per_class"]}
    classes = [c for c in counts if c in ap]
    if not classes:
        return None
    seen = [(counts[c], ap[c]) for c in classes if counts[c] > 0]
    fitted = len({n for n, _ in seen}) >= 2
    per_doubling = max(float(np.polyfit([math.log2(n) for n, _ in seen], [a for _, a in seen], 1)[0]), 0.0) if fitted else PER_DOUBLING
    median = float(np.median([counts[c] for c in classes]))
    rows = []
    for c in classes:
        n = counts[c]
        target = max(median, 2 * n, 1)
        doublings = math.log2(target / max(n, 1))
        gain = min(per_doubling * doublings, 1.0 - ap[c])
        rows.append({"class": c, "train_boxes": n, "target_boxes": int(round(target)), "mAP50-95": round(ap[c], 4),
                     "class_gain": round(gain, 4), "doublings": round(doublings, 2)})
    best = max(rows, key=lambda r: r["class_gain"])
    if best["class_gain"] <= 0:
        return None
    fit = f"fitted across {len(seen)} classes" if fitted else "a rule of thumb (the classes have the same number of boxes)"
    how = (f"the per-class AP50-95 against train boxes ({fit}): +{per_doubling:.3f} a doubling; {best['class']} from "
           f"{best['train_boxes']} to {best['target_boxes']} boxes is {best['doublings']:.1f} doublings, +{best['class_gain']:.3f} for "
           f"it, / {len(classes)} classes in the mean. Rough: classes differ in difficulty; short runs on half the train split "
           "would measure the learning curve")
    base = (ev.ws.dataset(ev.dataset) or {}).get("base") or ev.dataset
    pooled = _pool_size(ev, base)
    command = shell_command("prelabel", data=base, run=ev.run) if pooled else shell_command("pool-add", "photos/", data=ev.dataset)
    return action("more_data", f"Label more images of {best['class']}: {best['train_boxes']} train boxes, AP50-95 {best['mAP50-95']:.2f}",
                   best["class_gain"] / len(classes), how, {"class": best["class"], "per_class": rows, "pool_items": pooled}, command)


def _pool_size(ev: Evidence, base: str) -> int:
    from yolov11.data.pool import pool_items

    try:
        return sum(i["state"] in ("new", "suggested") for i in pool_items(base, workspace=ev.ws))
    except Exception:  # noqa: BLE001 - no pool (or none readable) is the same answer: nothing to pre-label
        return 0


def _retrain(ev: Evidence, **changes) -> str:
    settings = ev.record.get("settings") or {}
    flags = {"model": ev.record.get("model") or settings.get("model"), "epochs": settings.get("epochs"), "imgsz": settings.get("imgsz")}
    return shell_command("train", data=ev.dataset, **{**flags, **changes})


def pace(ev: Evidence) -> dict | None:
    """The learning curve still rising: {"per_epoch" (its slope over the last epochs), "last"
    (their mAP50-95), "epochs", "per_doubling", "room"}, else None. A curve flattens: twice the
    epochs go at half the pace, so each doubling of the training steps adds ``per_doubling`` =
    slope x epochs / 2 (the same again for the next doubling: half the pace over twice the steps),
    and the steps of one plan add at most ``room``, half the gap to 1."""
    curve = [h["mAP50-95"] for h in ev.history if "mAP50-95" in h]
    if len(curve) < 3:
        return None
    last = max(3, len(curve) // 5)
    slope = _slope(curve[-last:])
    if slope < STILL_RISING or int(np.argmax(curve)) < len(curve) - last:
        return None
    return {"per_epoch": slope, "last": curve[-last:], "epochs": len(curve), "per_doubling": slope * len(curve) * 0.5,
            "room": (1.0 - curve[-1]) / 2}


def train_longer(ev: Evidence) -> dict | None:
    rising = pace(ev)
    if rising is None:
        return None
    slope, last, epochs = rising["per_epoch"], rising["last"], rising["epochs"]
    gain = min(rising["per_doubling"], rising["room"])
    how = (f"mAP50-95 rose {slope:.4f} an epoch over the last {len(last)} epochs and its best is among them; twice the epochs at half "
           "that pace (a curve flattens). Rough: the curve may flatten sooner")
    return action("train_longer", f"Still improving at epoch {epochs}: train longer ({2 * epochs} epochs)", gain, how,
                   {"last_epochs": [round(v, 4) for v in last], "per_epoch": round(slope, 5)}, _retrain(ev, epochs=2 * epochs))


def regularise(ev: Evidence) -> dict | None:
    rows = [h for h in ev.history if all(k in h and f"val_{k}" in h for k in LOSSES)]
    if len(rows) < 6:
        return None
    tail = rows[-max(3, len(rows) // 3):]
    train = [sum(h[k] for k in LOSSES) for h in tail]
    val = [sum(h[f"val_{k}"] for k in LOSSES) for h in tail]
    if not (_slope(train) < 0 < _slope(val)):
        return None
    curve = [h.get("mAP50-95", 0.0) for h in ev.history]
    lost = max(max(curve) - curve[-1], 0.0)
    how = (f"over the last {len(tail)} epochs the train loss fell ({_slope(train):+.4f} an epoch) while the val loss rose "
           f"({_slope(val):+.4f}): the model learns its train images by heart. The gain shown is what that has cost since the best "
           "epoch (best.pt keeps that one); stronger augmentation or a smaller model may lift the best too, which is not estimated")
    return action("regularise", "Val loss rising while train loss falls: stronger augmentation or a smaller model", lost, how,
                   {"train_loss": [round(v, 4) for v in train], "val_loss": [round(v, 4) for v in val]},
                   _retrain(ev, mosaic=1.0, mixup=0.1, scale=0.7))


def resplit(ev: Evidence) -> dict | None:
    problems = ev.report.get("problem_images") or {}
    leaked = sorted({p for key in ("leakage", "families_crossing") for p in problems.get(key) or [] if f"/{ev.split}/" in f"/{p}"})
    if not leaked:
        return None
    images = ev.evaluation.get("images") or len(ev.gt_doc["images"])
    how = (f"not a gain in the number: {len(leaked)} of the {images} {ev.split} images have a copy (or an augmented copy) in another "
           "split, so this score is optimistic by an amount that cannot be known from it; a re-split by family gives an honest one")
    return action("resplit", f"{len(leaked)} {ev.split} images leak from train: re-split (the score is optimistic)", 0.0, how,
                   {"leaked": len(leaked), "images": leaked[:EXAMPLES]}, shell_command("resplit", data=ev.dataset))
