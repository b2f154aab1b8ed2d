"""The checks every model graph passes before Ultralytics builds it, wherever it comes from: a
model YAML someone uploaded, or the ``yaml`` dict inside a ``.pt`` (which the restricted
unpickler lets through as plain data, and which Ultralytics rebuilds the model from when a run
starts from that checkpoint).

Ultralytics' ``parse_model`` ``eval()``s the graph's ``activation`` and resolves each row's
module name among its module's globals, so a graph is code unless checked: the activation must
be a literal ``torch.nn`` layer (``nn.SiLU()``, ``nn.LeakyReLU(0.1)``), rows are
``[from, n, module, args]`` (module names are checked by ``compat.registry``), and the multipliers,
repeats and class count are bounded, so a graph cannot ask for minutes of allocation.
"""

from __future__ import annotations

from yolov11.errors import UserError

MAX_DEPTH_MULTIPLE = 3.0  # yolov11x uses 1.0: deeper repeats every block 3x
MAX_WIDTH_MULTIPLE = 4.0  # yolov11x uses 1.5
MAX_CHANNELS = 8192  # a scale's channel cap (yolov11x: 512)
MAX_REPEATS = 64  # a row's block count n (before depth_multiple)
MAX_CLASSES = 10_000


def _bounded(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low < value <= high


def _check_activation(act: object, where: str) -> None:
    from yolov11.compat.graph import literal_activation

    if not literal_activation(str(act)):
        raise UserError(f"{where}: activation {str(act)[:60]!r} must be a torch.nn layer such as nn.SiLU()")


def check_graph(doc: object, where: str = "model graph") -> None:
    """Raise UserError naming what is wrong with a model graph dict (``where`` names its source)."""
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) and doc.get(k) for k in ("backbone", "head")):
        raise UserError(f"{where}: not a model YAML (needs 'backbone' and 'head' lists of [from, n, module, args] rows)")
    for i, row in enumerate(doc["backbone"] + doc["head"]):
        if not (
            isinstance(row, list) and len(row) == 4 and isinstance(row[1], int) and isinstance(row[2], str) and isinstance(row[3], list)
        ):
            raise UserError(f"{where}: row {i} {str(row)[:80]}: expected [from, n, module, [args]]")
        if not 1 <= row[1] <= MAX_REPEATS:
            raise UserError(f"{where}: row {i} repeats its block {row[1]} times (1 to {MAX_REPEATS})")
    for key, high in (("depth_multiple", MAX_DEPTH_MULTIPLE), ("width_multiple", MAX_WIDTH_MULTIPLE)):
        if key in doc and not _bounded(doc[key], 0, high):
            raise UserError(
                f"{where}: {key} {doc[key]!r} must be a number above 0 and at most {high} "
                f"(yolov11x uses {1.0 if key == 'depth_multiple' else 1.5})"
            )
    scales = doc.get("scales")
    if scales is not None and not isinstance(scales, dict):
        raise UserError(f"{where}: scales must map a scale letter to [depth, width, max_channels]")
    for scale, row in (scales or {}).items():
        if not (
            isinstance(row, list) and len(row) == 3 and _bounded(row[0], 0, MAX_DEPTH_MULTIPLE) and _bounded(row[1], 0, MAX_WIDTH_MULTIPLE)
            and _bounded(row[2], 0, MAX_CHANNELS)
        ):
            raise UserError(
                f"{where}: scales.{scale} {row!r} must be "
                f"[depth <= {MAX_DEPTH_MULTIPLE}, width <= {MAX_WIDTH_MULTIPLE}, max_channels <= {MAX_CHANNELS}]"
            )
    if doc.get("nc") is not None and not (isinstance(doc["nc"], int) and 1 <= doc["nc"] <= MAX_CLASSES):
        raise UserError(f"{where}: nc {doc['nc']!r} must be a whole number from 1 to {MAX_CLASSES}")
    if doc.get("activation"):
        _check_activation(doc["activation"], where)
