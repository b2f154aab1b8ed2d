"""A run as a Jupyter notebook that reruns it: the dataset import, the training call with the
exact settings and seed, each evaluation, each export made and a prediction. Every code cell
follows a markdown cell saying what it does and what the app showed (metrics, paths).

All of it comes from the registry: the dataset's origin (the import's source and options,
``Workspace.set_origin``), the run's settings and metrics, its evaluations
(``runs/<id>/eval-<split>/metrics.json``) and its exports (``Workspace.exports``, each one's
options). The notebook reruns into a workspace of its own, a folder beside the notebook, so
running it never changes the workspace it came from. Its code is made of ``python_call``
literals, the same as the app's "Same in Python" snippets.

A registry row is data, whoever wrote it: keys and values reach the code as literals only
(``snippets.keyword_args``), and names and paths reach the markdown as text, never as HTML. A run
on a dataset version (``<base>@vN``) rebuilds it: the base is imported as any dataset, then each
step of its chain is replayed: a label edit with ``edit_labels`` and the edited images' full box
lists, read from the version folders as the notebook is written; a re-split by family with
``resplit_dataset`` and its recorded seed and val fraction (the same files give the same split);
images added from the unlabeled pool with ``pool_add`` (the pool's copies, else the version's own:
the same bytes, so the same item ids) and ``pool_accept`` with each one's boxes as accepted
(``dataset_cells``).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from yolov11.codegen.snippets import keyword_args, literal
from yolov11.errors import UserError
from yolov11.training.events import read_events
from yolov11.training.settings import run_keywords
from yolov11.workspace import Workspace

_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")


def text(value: object) -> str:
    """A string from the registry (a name, a format, a summary) as plain text in a markdown cell:
    one line, HTML and markdown characters escaped."""
    return _MARKDOWN.sub(r"\\\1", html.escape(" ".join(str(value).split()), quote=False))


def code(value: object) -> str:
    """A path or name as an inline code span (shown as typed, never as HTML), one line."""
    one = " ".join(str(value).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", one)), default=0) + 1)
    pad = " " if one.startswith("`") or one.endswith("`") else ""  # CommonMark strips one space each side
    return f"{fence}{pad}{one}{pad}{fence}"


def _shown(metrics: dict | None) -> str:
    numbers = {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return ", ".join(f"{text(k)} {v:.4f}" for k, v in numbers.items()) or "no metrics recorded"


class Code(str):
    """Python source to put in a call as it is (a variable of an earlier cell), not as a literal."""


def _call(function: str, result: str, first: str | None, kwargs: dict[str, Any]) -> str:
    """``result = yolov11.function(first, k=v, ..., workspace=WS)``, one keyword a line; a key
    that is not a plain name goes into a ``**{...}`` of literals (``snippets.keyword_args``)."""
    values = {**kwargs, "workspace": Code("WS")}
    args = ([first] if first else []) + keyword_args(values, lambda v: v if isinstance(v, Code) else literal(v))
    return f"{result} = yolov11.{function}(\n    " + ",\n    ".join(args) + ",\n)"


def _import_cells(dataset: dict) -> tuple[str, str]:
    """The import of a dataset that is no version of another (its origin: the source and options)."""
    origin = dataset.get("origin") or {}
    options = origin.get("options") or {}
    if origin.get("demo"):
        return ("The built-in demo dataset, generated again (seeded: the same images and labels).",
                _call("ensure_demo_dataset", "ds", None, options) + "\nprint(yolov11.summarize_report(ds))")
    kept = dataset["path"]
    src = origin.get("src") or kept
    md = (f"Import **{text(dataset['name'])}** ({text(dataset['format'])}, {dataset['images']} images) from {code(Path(src).name)}"
          + (f" with {', '.join(f'{text(k)}={text(v)}' for k, v in options.items())}" if options else "") + ". "
          "The app does not keep uploaded zips: when the original is gone, the imported copy "
          f"({code(kept)}: the same images, labels and split) is read instead.")
    source = (f"SOURCE = Path({literal(src)})\n"
              "if not SOURCE.exists():  # an upload the app removed once imported\n"
              f"    SOURCE = Path({literal(kept)})\n"
              + _call("import_dataset", "ds", "SOURCE", {"name": dataset["name"], **options})
              + "\nprint(yolov11.summarize_report(ds))")
    return md, source


def _label_edit(version: dict) -> bool:
    """Whether ``version`` was made by ``edit_labels``: its diff names each edited image with the
    boxes added, removed and changed."""
    images = (version.get("diff") or {}).get("images")
    return isinstance(images, dict) and bool(images) and all(isinstance(c, dict) and "added" in c for c in images.values())


def _resplit(version: dict) -> dict | None:
    """The ``resplit_dataset`` keywords that made ``version`` (its recorded seed and val fraction), or None."""
    lineage = (version.get("diff") or {}).get("resplit")
    if not isinstance(lineage, dict):
        return None
    seed, fraction = lineage.get("seed"), lineage.get("val_fraction")
    if not (isinstance(seed, int) and not isinstance(seed, bool) and isinstance(fraction, (int, float)) and not isinstance(fraction, bool)):
        return None
    return {"val_fraction": fraction, "seed": seed}


def _pooled(version: dict) -> dict | None:
    """The pool's part of ``version``'s diff ({"items", "split"}) when ``pool_accept`` made it, else None."""
    pool = (version.get("diff") or {}).get("pool")
    ok = isinstance(pool, dict) and isinstance(pool.get("items"), list) and pool.get("split") in ("train", "val")
    return pool if ok and all(isinstance(i, str) for i in pool["items"]) else None


def _tiled(version: dict) -> dict | None:
    """The ``tile_dataset`` keywords that made ``version`` (its recorded geometry and seed), or None."""
    tiles = (version.get("diff") or {}).get("tiles")
    keys = ("size", "overlap", "min_visible", "empty_ratio", "seed")
    if not isinstance(tiles, dict) or not all(isinstance(tiles.get(k), (int, float)) and not isinstance(tiles.get(k), bool) for k in keys):
        return None
    return {k: tiles[k] for k in keys}


def _replayable(version: dict) -> bool:
    return bool(_label_edit(version) or _resplit(version) or _pooled(version) or _tiled(version))


def _chain(ws: Workspace, dataset: dict) -> list[dict] | None:
    """The datasets from the import to ``dataset``, each the parent of the next; None when a link
    is gone or one of them is neither a label edit nor a re-split."""
    chain, seen = [dataset], {dataset["name"]}
    while chain[0].get("parent"):
        parent = ws.dataset(chain[0]["parent"])
        if parent is None or parent["name"] in seen or not _replayable(chain[0]):
            return None
        chain.insert(0, parent)
        seen.add(parent["name"])
    return chain if chain[0].get("version", 1) == 1 else None  # the first must be an import


def _edited_boxes(ws: Workspace, version: dict, images: list[str] | None = None) -> dict[str, list[dict]]:
    """{image: its full box list in ``version``} for each image its label edit changed (or each of
    ``images``): what ``edit_labels`` takes to write the same label files again (pixels at full precision)."""
    from yolov11.data.versions import image_labels

    return {rel: image_labels(version["name"], rel, ws)["boxes"] for rel in sorted(images or version["diff"]["images"])}


def _pool_cells(ws: Workspace, version: dict) -> tuple[str, str]:
    """The pool additions that made ``version``: its images added to a pool of the rebuilt dataset,
    then accepted with their boxes as saved (each item's id is its bytes' hash, the same again)."""
    from yolov11.data.pool import pool_dir

    pool, folder = _pooled(version), Path(version["path"])
    added = {Path(rel).stem.removeprefix("pool-"): rel for rel in version["diff"]["images"]}
    missing = [item for item in pool["items"] if item not in added or not (folder / added[item]).is_file()]
    if missing:
        raise UserError(field="--run", value=version["name"], detail=f"pool item {missing[0]} is missing from the version's folder")
    originals = {item: pool_dir(ws, version["name"]) / "items" / f"{item}{Path(added[item]).suffix}" for item in pool["items"]}
    sources = [str(originals[i] if originals[i].is_file() else folder / added[i]) for i in pool["items"]]
    boxes = {item: _edited_boxes(ws, version, [added[item]])[added[item]] for item in pool["items"]}
    md = (f"### Version {text(version['name'])}\n{len(pool['items'])} image(s) from the unlabeled pool added to the "
          f"{text(pool['split'])} split of {text(version['parent'])} with the boxes accepted in review "
          f"({version['diff'].get('added', 0)} box(es), pixels as saved). The pool's copies of the images are read "
          "(or, when they are gone, the version's own: the same bytes).")
    source = (_call("pool_add", "pooled", "ds['name']", {"sources": sources})
              + "\n" + _call("pool_accept", "accepted", "ds['name']", {"items": pool["items"], "boxes": boxes, "split": pool["split"]})
              + "\nds = WS.dataset(accepted['version'])\nds['name']")
    return md, source


def dataset_cells(ws: Workspace, dataset: dict) -> list[tuple[str, str]]:
    """(markdown, code) pairs that leave ``ds`` holding the run's dataset in ``WS``: its import,
    then, for a version, the label edits that made it, one cell each (the rebuilt version's name
    may differ: versions are numbered in the order they are made)."""
    chain = _chain(ws, dataset)
    if chain is None:  # a parent deleted, or a version of another kind: the version's own folder
        return [(f"The run trained on {text(dataset['name'])}, a version whose lineage is not complete in the registry: its "
                 f"folder {code(dataset['path'])} is imported as it is.",
                 _call("import_dataset", "ds", f"Path({literal(dataset['path'])})", {"name": f"{dataset['base']}-v{dataset['version']}"})
                 + "\nprint(yolov11.summarize_report(ds))")]
    cells = [_import_cells(chain[0])]
    for version in chain[1:]:
        diff = version["diff"]
        if _pooled(version):
            cells.append(_pool_cells(ws, version))
            continue
        if _tiled(version):
            args = _tiled(version)
            md = (f"### Version {text(version['name'])}\nThe tiling that made it from {text(version['parent'])}: train and val images cut "
                  f"into tiles of {text(args['size'])} px overlapping by {text(args['overlap'])}, boxes cut at a tile edge kept when "
                  f"{text(args['min_visible'])} of them is left, empty tiles kept at {text(args['empty_ratio'])} per tile with boxes "
                  f"(seed {text(args['seed'])}). The same images and settings give the same tiles.")
            cells.append((md, _call("tile_dataset", "ds", "ds['name']", args) + "\nds['name']"))
            continue
        if _resplit(version):
            args = _resplit(version)
            md = (f"### Version {text(version['name'])}\nThe re-split by family that made it from {text(version['parent'])}: "
                  f"train and val split again with each family of augmented copies on one side (val fraction {text(args['val_fraction'])}, "
                  f"seed {text(args['seed'])}; a test split kept). The same images, fraction and seed give the same split.")
            cells.append((md, _call("resplit_dataset", "ds", "ds['name']", args) + "\nds['name']"))
            continue
        md = (f"### Version {text(version['name'])}\nThe label edit that made it from {text(version['parent'])}: "
              f"{len(diff['images'])} image(s), {diff.get('added', 0)} box(es) added, {diff.get('removed', 0)} removed, "
              f"{diff.get('changed', 0)} changed. Each edited image's full box list, as saved (pixels), so the label files "
              "come out the same byte for byte.")
        cells.append((md, _call("edit_labels", "ds", "ds['name']", {"edits": _edited_boxes(ws, version)}) + "\nds['name']"))
    return cells


def _statuses(run: dict) -> list[str]:
    events, _ = read_events(Path(run["dir"]) / "events.jsonl")
    return [e.get("status") for e in events if e.get("type") == "status"]


def reproducibility(run: dict, settings: dict) -> str:
    """What a rerun promises: identical numbers only for a run that went in one go, to its end,
    on the CPU (a stop and a resume, or more epochs added, give other numbers)."""
    statuses = _statuses(run)
    epochs = settings.get("epochs", "?")
    if statuses.count("running") > 1:
        return (f"This run was stopped and resumed, or resumed for more epochs ({statuses.count('running') - 1} resume(s)); "
                f"the notebook trains its {text(epochs)} epochs in one go, so **its numbers differ** from those the app showed "
                "(a resume starts its epochs again from a checkpoint, with another order of images and augmentations).")
    if run["status"] != "done":
        return (f"This run is **{text(run['status'])}**: it did not train its {text(epochs)} epochs to their end, and the notebook "
                "trains all of them, so **its numbers differ** from those the app showed.")
    if str(settings.get("device", "cpu")) != "cpu":
        return (f"This run trained on GPU {text(settings.get('device'))}: a rerun there comes close but not bit for bit; "
                "only training on the CPU with a fixed seed gives the same numbers again.")
    return "Trained in one go on the CPU with a fixed seed: running this notebook gives the same numbers again."


def build(run_id: str, workspace: Workspace | str | Path | None = None):
    """The notebook (an ``nbformat`` NotebookNode) of run ``run_id``."""
    import nbformat.v4 as nbf

    ws = Workspace.at(workspace)
    run = ws.require_run(run_id)
    settings = run["settings"] or {}
    dataset = ws.dataset(run["dataset"] or "")
    md, cell = nbf.new_markdown_cell, nbf.new_code_cell
    cells = [
        md(f"# Run {text(run_id)}\n**{text(run['model'])}** on **{text(run['dataset'])}**: {text(settings.get('epochs', '?'))} epochs at "
           f"{text(settings.get('imgsz', '?'))} px, seed {text(settings.get('seed', 0))}, device {text(settings.get('device', 'cpu'))}. "
           "Written by yolov11 workbench from its registry; each step is the call the app made. It reruns into a "
           f"workspace of its own (`WS`, the folder {code('workspace-' + run_id)} beside this notebook), leaving the original alone. "
           + reproducibility(run, settings)),
        cell("from pathlib import Path\n\nimport yolov11\n\n" f"WS = yolov11.Workspace.at(Path({literal('workspace-' + run_id)}))"),
    ]
    if dataset is not None:
        for i, (text_md, source) in enumerate(dataset_cells(ws, dataset)):
            cells += [md(("## The dataset\n" if i == 0 else "") + text_md), cell(source)]
        data = "ds['name']"
    else:  # trained on a data.yaml outside the workspace
        cells.append(md(f"## The dataset\nThe run trained on {code(run['dataset'])}, a data.yaml outside the workspace, used as it is."))
        data = literal(run["dataset"])
    cells += [
        md(f"## Training\nThe settings and seed of run {code(run_id)} ({text(run['status'])}). The app showed: {_shown(run['metrics'])}."),
        cell(_call("train", "result", data, {"model": run["model"], **run_keywords(settings)}) + "\nresult['metrics']"),
    ]
    for saved in sorted(Path(run["dir"]).glob("eval-*/metrics.json")):
        split = saved.parent.name.removeprefix("eval-")
        shown = json.loads(saved.read_text()).get("metrics")
        cells += [md(f"## Evaluation on {text(split)}\nThe app showed: {_shown(shown)}."),
                  cell("evaluation = yolov11.evaluate(run=result['run'], split=" f"{literal(split)}, workspace=WS)\nevaluation['metrics']")]
    for export in ws.exports(run_id):
        cells += [md(f"## Export: {text(Path(export['path']).name)}\nThe app wrote {code(export['path'])}; "
                     f"verification: {text(export['summary'] or 'none')}."),
                  cell(_call("export_model", "exported", None, {"run": Code("result['run']"), **export["options"]}) + "\nexported['path']")]
    images = "Path(WS.dataset(ds['name'])['path']) / 'images' / 'val'" if dataset is not None else None
    if images:
        cells += [md("## Prediction\nThe trained model on the first validation image "
                     "(the annotated copy lands in `WS`'s predictions folder)."),
                  cell(f"first = sorted(({images}).iterdir())[0]\n"
                       "found = yolov11.predict(result['weights'], first, workspace=WS)\n"
                       "found['images'][0]['detections']")]
    return nbf.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                                   "language_info": {"name": "python"}})


def write_notebook(run_id: str, out: str | Path | None = None, workspace: Workspace | str | Path | None = None) -> Path:
    """Write run ``run_id``'s notebook to ``out`` (default ``runs/<id>/<id>.ipynb``); returns its path."""
    import nbformat

    ws = Workspace.at(workspace)
    path = Path(out).expanduser() if out else Path(ws.require_run(run_id)["dir"]) / f"{run_id}.ipynb"
    if path.suffix != ".ipynb":
        raise UserError(field="--out", value=path, detail="a notebook's file name ends in .ipynb")
    nb = build(run_id, ws)
    nbformat.validate(nb)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
    except OSError as exc:
        raise UserError(field="--out", value=path, detail=f"cannot write it ({exc.strerror})") from None
    return path
