"""Publish a model to the app's /demo page, where people who don't write code try it.

Publishing copies the weights, so retraining or deleting the run leaves the demo as it was::

    <workspace>/published/<name>/model.<pt|onnx|torchscript>   the copy /demo predicts with
                                     (or model_openvino_model/, model_ncnn_model/: a folder model)
    <workspace>/published/<name>/model.json                    its card: name, source, classes, when,
                                                               the run's val mAP50 and a warning if it is weak
    <workspace>/published/current.json                         {"name": ...}: the one /demo shows

    >>> yolov11.publish(run="20250101-120000-yolov11n", name="hardhats")
    >>> yolov11.published()["classes"]
    ['helmet', 'head', 'vest']
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from yolov11 import checkpoints
from yolov11.errors import UserError
from yolov11.export import formats
from yolov11.serve.predict import load_detector, weights_path
from yolov11.training.status import run_status, weak_model_warning
from yolov11.workspace import Workspace

_CURRENT = "current.json"  # names the published model /demo shows
# a folder name on every OS, and readable in a URL (fullmatch: "$" lets a final newline by)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _write_json(path: Path, data: dict) -> None:
    """Write then rename: the app may read the card while it is being replaced."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


def publish(
    run: str | None = None,
    weights: str | os.PathLike | None = None,
    name: str | None = None,
    workspace: Workspace | str | os.PathLike | None = None,
) -> dict:
    """Copy a run's best weights (or a .pt, or an exported model of any format) to published/ and make it
    the model /demo shows. Returns its card; publishing a name again replaces that model.

    A run's card carries its ``val_mAP50``; ``warning`` is a sentence when that is so low the
    model finds almost nothing (it is published all the same: the caller shows the warning).
    Uploaded weights carry neither (None): nothing says how well they do."""
    ws = Workspace.at(workspace)
    if bool(run) == bool(weights):
        raise UserError(field="--run or --weights", detail="give exactly one of them")
    source = ws.run_weights(run) if run else weights_path(weights).resolve()
    name = name or run or source.stem
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == _CURRENT:
        shown = name if isinstance(name, str) and name.isprintable() else repr(name)  # a newline shown as \n: the message stays one line
        raise UserError(
            field="--name", value=shown, detail="use up to 64 letters, digits, '.', '_' or '-' (starting with a letter or digit)"
        )
    classes = list(load_detector(source).names.values())  # also proves the file loads before /demo relies on it
    map50 = run_status(run, ws)["val_mAP50"] if run else None

    dest = ws.published_dir / name
    dest.mkdir(parents=True, exist_ok=True)
    fmt = formats.of_path(source)  # None: a .pt
    model = dest / f"model{fmt.suffix if fmt else source.suffix}"
    tmp = dest / f".{model.name}.tmp"
    if source.is_dir():  # a folder model (an OpenVINO IR, NCNN): copied whole, then swapped in (the old one removed after)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        old = dest / f".{model.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if model.exists():
            model.rename(old)
        tmp.rename(model)
        shutil.rmtree(old, ignore_errors=True)
    else:
        shutil.copyfile(source, tmp)
        os.replace(tmp, model)  # a /demo request running meanwhile keeps reading the old file
    for stale in dest.glob("model*"):  # republished in another format
        if stale != model and (stale.suffix == ".pt" or formats.of_path(stale) is not None):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    card = {
        "name": name,
        "weights": model.name,
        "format": fmt.name if fmt else "pt",
        "source_run": run,
        "source": str(source),
        "classes": classes,
        "val_mAP50": map50,
        "warning": weak_model_warning({"mAP50": map50}),
        "published": time.strftime("%Y-%m-%d %H:%M:%S"),
        "trusted": source.suffix == ".pt" and checkpoints.is_trusted(source),  # the user vouched for a .pt the restricted loader refuses
    }
    _write_json(dest / "model.json", card)
    _write_json(ws.published_dir / _CURRENT, {"name": name})
    return {**card, "weights": str(model)}


def published(workspace: Workspace | str | os.PathLike | None = None) -> dict | None:
    """The card of the model /demo shows (``weights`` an absolute path), or None if none is published."""
    ws = Workspace.at(workspace)
    try:
        name = json.loads((ws.published_dir / _CURRENT).read_text())["name"]
        card = json.loads((ws.published_dir / name / "model.json").read_text())
    except (OSError, ValueError, KeyError):  # nothing published yet (or a half-deleted folder)
        return None
    model = ws.published_dir / name / card["weights"]
    if not (model.is_file() or model.is_dir()):
        return None
    if card.get("trusted"):
        checkpoints.trust(model)  # trusted when it was published, by whoever published it
    return {**card, "weights": str(model)}
