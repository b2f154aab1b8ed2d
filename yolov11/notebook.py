"""A run as a Jupyter notebook that reruns it: the dataset import, the training call with the
exact settings and seed, each evaluation, each export made and a prediction. Every code cell
follows a markdown cell saying what it does and what the app showed (metrics, paths).

All of it comes from the registry: the dataset's origin (the import's source and options,
``Workspace.set_origin``), the run's settings and metrics, its evaluations
(``runs/<id>/eval-<split>/metrics.json``) and its exports (``Workspace.exports``, each one's
options). The notebook reruns into a workspace of its own, a folder beside the notebook, so
running it never changes the workspace it came from. Its code is made of ``python_call``
literals, the same as the app's "Same in Python" snippets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from yolov11.cli.snippets import literal
from yolov11.errors import UserError
from yolov11.workspace import Workspace

DERIVED = ("model", "amp")  # recorded settings TrainSettings derives again (amp: from the device)


def train_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    """A run's recorded settings (Ultralytics' arguments, ``TrainSettings.record``) as
    ``yolov11.train`` keywords; ``TrainSettings.of(**train_kwargs(r)).record() == r``."""
    out = {k: v for k, v in settings.items() if k not in DERIVED}
    if "pretrained" in out:
        out["weights"] = out.pop("pretrained")
    return out


def _shown(metrics: dict | None) -> str:
    numbers = {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return ", ".join(f"{k} {v:.4f}" for k, v in numbers.items()) or "no metrics recorded"


class Code(str):
    """Python source to put in a call as it is (a variable of an earlier cell), not as a literal."""


def _call(function: str, result: str, first: str | None, kwargs: dict[str, Any]) -> str:
    """``result = yolov11.function(first, k=v, ..., workspace=WS)``, one keyword a line."""
    values = {**kwargs, "workspace": Code("WS")}
    args = ([first] if first else []) + [f"{k}={v if isinstance(v, Code) else literal(v)}" for k, v in values.items()]
    return f"{result} = yolov11.{function}(\n    " + ",\n    ".join(args) + ",\n)"


def _dataset_cells(dataset: dict) -> tuple[str, str]:
    origin = dataset.get("origin") or {}
    options = origin.get("options") or {}
    if origin.get("demo"):
        return ("The built-in demo dataset, generated again (seeded: the same images and labels).",
                _call("ensure_demo_dataset", "ds", None, options) + "\nprint(yolov11.summarize_report(ds))")
    kept = dataset["path"]
    src = origin.get("src") or kept
    md = (f"Import **{dataset['name']}** ({dataset['format']}, {dataset['images']} images) from `{Path(src).name}`"
          + (f" with {', '.join(f'{k}={v}' for k, v in options.items())}" if options else "") + ". "
          "The app does not keep uploaded zips: when the original is gone, the imported copy "
          f"(`{kept}`: the same images, labels and split) is read instead.")
    code = (f"SOURCE = Path({literal(src)})\n"
            "if not SOURCE.exists():  # an upload the app removed once imported\n"
            f"    SOURCE = Path({literal(kept)})\n"
            + _call("import_dataset", "ds", "SOURCE", {"name": dataset["name"], **options})
            + "\nprint(yolov11.summarize_report(ds))")
    return md, code


def build(run_id: str, workspace: Workspace | str | Path | None = None):
    """The notebook (an ``nbformat`` NotebookNode) of run ``run_id``."""
    import nbformat.v4 as nbf

    ws = Workspace.at(workspace)
    run = ws.require_run(run_id)
    settings = run["settings"] or {}
    dataset = ws.dataset(run["dataset"] or "")
    md, code = nbf.new_markdown_cell, nbf.new_code_cell
    cells = [
        md(f"# Run {run_id}\n**{run['model']}** on **{run['dataset']}**: {settings.get('epochs', '?')} epochs at "
           f"{settings.get('imgsz', '?')} px, seed {settings.get('seed', 0)}, device {settings.get('device', 'cpu')}. "
           "Written by yolov11 workbench from its registry; each step is the call the app made. It reruns into a "
           f"workspace of its own (`WS`, the folder `workspace-{run_id}` beside this notebook), leaving the original alone. "
           "Training on the CPU with a fixed seed gives the same numbers again."),
        code("from pathlib import Path\n\nimport yolov11\n\n" f"WS = yolov11.Workspace.at(Path({literal('workspace-' + run_id)}))"),
    ]
    if dataset is not None:
        text, source = _dataset_cells(dataset)
        cells += [md(f"## The dataset\n{text}"), code(source)]
        data = "ds['name']"
    else:  # trained on a data.yaml outside the workspace
        cells.append(md(f"## The dataset\nThe run trained on `{run['dataset']}`, a data.yaml outside the workspace, used as it is."))
        data = literal(run["dataset"])
    cells += [
        md(f"## Training\nThe settings and seed of run `{run_id}` ({run['status']}). The app showed: {_shown(run['metrics'])}."),
        code(_call("train", "result", data, {"model": run["model"], **train_kwargs(settings)}) + "\nresult['metrics']"),
    ]
    for saved in sorted(Path(run["dir"]).glob("eval-*/metrics.json")):
        split = saved.parent.name.removeprefix("eval-")
        shown = json.loads(saved.read_text()).get("metrics")
        cells += [md(f"## Evaluation on {split}\nThe app showed: {_shown(shown)}."),
                  code("evaluation = yolov11.evaluate(run=result['run'], split=" f"{literal(split)}, workspace=WS)\nevaluation['metrics']")]
    for export in ws.exports(run_id):
        cells += [md(f"## Export: {Path(export['path']).name}\nThe app wrote `{export['path']}`; verification: {export['summary'] or 'none'}."),
                  code(_call("export_model", "exported", None, {"run": Code("result['run']"), **export["options"]}) + "\nexported['path']")]
    images = "Path(WS.dataset(ds['name'])['path']) / 'images' / 'val'" if dataset is not None else None
    if images:
        cells += [md("## Prediction\nThe trained model on the first validation image (the annotated copy lands in `WS`'s predictions folder)."),
                  code(f"first = sorted(({images}).iterdir())[0]\n"
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
        raise UserError(f"--out {path}: a notebook's file name ends in .ipynb")
    nb = build(run_id, ws)
    nbformat.validate(nb)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
    except OSError as exc:
        raise UserError(f"--out {path}: cannot write it ({exc.strerror})") from None
    return path
