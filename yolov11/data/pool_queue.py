"""Which pool items to label first, by a named strategy; deterministic for a seed.

* ``random``: the baseline, a seeded shuffle;
* ``uncertainty``: the items the model is least sure of (``prelabel``'s uncertainty: candidates
  near the threshold, the image and its flip disagreeing) first;
* ``diversity``: greedy k-center over the items' features (``pool_features``: the pre-labelling
  run's backbone embeddings, else a cheap image descriptor): each next item is the one farthest
  from those already chosen, so the first labels cover the footage;
* ``mixed`` (the default): a diverse shortlist (three times the queue asked for, at least 30),
  ordered by uncertainty with a boost for items whose suggestions name classes rare in the
  dataset; the rest follow in diversity order. Without pre-labels it is ``diversity``.

Only items not reviewed yet (new, suggested, skipped; not in the review's draft) are queued.
"""

from __future__ import annotations

import os

import numpy as np

from yolov11.data.pool import _base, _rows
from yolov11.data.pool_features import features
from yolov11.errors import UserError
from yolov11.workspace import Workspace

STRATEGIES = ("mixed", "uncertainty", "diversity", "random")
QUEUED = ("new", "suggested", "skipped")


def k_center(vectors: np.ndarray, rng: np.random.Generator) -> list[int]:
    """All indices in greedy k-center order from a seeded start."""
    n = len(vectors)
    if n == 0:
        return []
    order = [int(rng.integers(n))]
    distance = np.linalg.norm(vectors - vectors[order[0]], axis=1)
    distance[order[0]] = -1
    for _ in range(n - 1):
        nxt = int(np.argmax(distance))
        order.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(vectors - vectors[nxt], axis=1))
        distance[order] = -1
    return order


def _rare_boost(rows: list[dict], class_counts: dict[str, int]) -> np.ndarray:
    total = sum(class_counts.values()) or 1
    boost = []
    for row in rows:
        shares = [class_counts.get(s["class"], 0) / total for s in row["suggestions"]]
        boost.append(float(np.mean([1 - s for s in shares])) if shares else 0.0)
    return np.array(boost)


def pool_queue(data: str, strategy: str = "mixed", limit: int | None = None, seed: int = 0,
               workspace: Workspace | str | os.PathLike | None = None) -> dict:
    """The pool's items not yet reviewed, best first: {"strategy", "features", "items": [item + "score"]}
    ("features": what diversity measured, "backbone of <model>" or "image descriptor")."""
    ws = Workspace.at(workspace)
    if strategy not in STRATEGIES:
        raise UserError(field="--strategy", value=strategy, detail=f"choose one of {', '.join(STRATEGIES)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UserError(field="--limit", value=limit, detail="a positive number of items")
    base = _base(ws, data)
    rows = [r for r in _rows(ws, base) if r["state"] in QUEUED and not r["draft"]]  # a reviewed item waits in the draft
    rng = np.random.default_rng(seed)
    unsure = np.array([r["uncertainty"] or 0.0 for r in rows])
    labelled = any(r["state"] == "suggested" for r in rows)
    if strategy == "mixed" and not labelled:
        strategy_used = "diversity"
    else:
        strategy_used = strategy
    used = None
    if strategy_used == "random" or not rows:
        order, scores = list(rng.permutation(len(rows))), [None] * len(rows)
    elif strategy_used == "uncertainty":
        tie = rng.random(len(rows))
        order = sorted(range(len(rows)), key=lambda i: (-unsure[i], tie[i]))
        scores = list(unsure)
    else:
        vectors, used = features(ws, base, rows)
        spread = k_center(vectors, rng)
        if strategy_used == "diversity":
            order, scores = spread, [None] * len(rows)
        else:
            from pathlib import Path

            from yolov11.data.stats import dataset_boxes

            table = dataset_boxes(Path(ws.dataset(data)["path"]))
            counts = {str(k): int(v) for k, v in table["class"].dropna().value_counts().items()}
            shortlist = spread[:max(3 * (limit or 10), 30)]
            score = unsure + 0.5 * _rare_boost(rows, counts)
            order = sorted(shortlist, key=lambda i: -score[i]) + spread[len(shortlist):]
            scores = list(score)
    picked = order[:limit] if limit else order
    keep = ("id", "file", "source", "at_s", "state", "model", "suggestions", "uncertainty")
    items = [{**{k: rows[i][k] for k in keep}, "score": None if scores[i] is None else round(float(scores[i]), 4)} for i in picked]
    return {"dataset": base, "strategy": strategy_used, "features": used, "seed": seed, "items": items}
