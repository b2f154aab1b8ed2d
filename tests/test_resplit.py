"""Re-split by family (issue 21, item 5): a dataset whose given splits cut families of augmented
copies gets a new version <name>@vN whose train and val keep each family on one side, through
the API, the CLI, the page's handler and the /resplit_dataset endpoint; its lineage records the
seed and the val fraction."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gradio as gr
import pytest
import yaml
from gradio_client import Client

import yolov11
from yolov11.__main__ import main as cli_main

import family_fixtures as ff
from helpers import free_port


def _layout(root: Path) -> dict[str, str]:
    """stem -> split of a dataset folder's images."""
    return {p.stem: p.parent.name for p in (root / "images").glob("*/*")}


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    """An export of 8 photos, 2-5 copies each, put in train/valid/test at random (families
    cross the splits), plus 4 photos seen once, imported as "fam"."""
    base = tmp_path_factory.mktemp("resplit")
    fs = ff.write_families(base / "export", 8, seed=5, splits={"train": 0.6, "valid": 0.3, "test": 0.1}, singles=4)
    ws = yolov11.Workspace.at(base / "ws")
    report = yolov11.import_dataset(base / "export", name="fam", workspace=ws)
    family = {Path(f).stem: fs.family[f] for f in fs.files}
    return ws, report, family


def test_the_report_of_given_splits_names_the_families_that_cross_them(crossing):
    ws, report, family = crossing
    split = _layout(Path(report["path"]))
    truly = {f for f in set(family.values()) if len({split[s] for s in family if family[s] == f}) > 1}
    assert len(truly) >= 4  # the export is built to cut families
    section = report["families"]
    assert section["crossing_count"] == len(truly)  # the Roboflow names join each family whole
    for listed in section["crossing"]:
        a, b = listed["pair"]
        assert family[Path(a).stem] == family[Path(b).stem] and a.split("/")[1] != b.split("/")[1], listed
    assert any(w.startswith(f"{len(truly)} families of augmented copies") and "resplit --data fam" in w for w in report["warnings"])
    members = {s for s in family if family[s] in truly}
    assert sorted(Path(p).stem for p in report["problem_images"]["families_crossing"]) == sorted(members)


def test_resplit_writes_a_version_that_keeps_each_family_on_one_side(crossing):
    ws, report, family = crossing
    parent = Path(report["path"])
    before = {p: p.stat().st_mtime_ns for p in parent.rglob("*")}
    r = yolov11.resplit_dataset("fam", val_fraction=0.25, seed=1, workspace=ws)
    assert (r["name"], r["parent"], r["version"]) == ("fam@v2", "fam", 2)
    assert r["crossing_before"] == report["families"]["crossing_count"] and r["moved"] > 0
    root = Path(r["path"])
    old, new = _layout(parent), _layout(root)
    assert sorted(old) == sorted(new)  # the same images, none lost or renamed
    assert {s for s in old if old[s] == "test"} == {s for s in new if new[s] == "test"}  # a test split stays as it is
    for f in set(family.values()):  # each family on one side of train/val (test aside)
        assert len({new[s] for s in family if family[s] == f} - {"test"}) <= 1, f
    assert r["crossing_after"] == sum(len({new[s] for s in family if family[s] == f}) > 1 for f in set(family.values()))
    assert {"train", "val"} <= set(new.values())
    for stem, split in new.items():  # images hard-linked, labels follow their image
        image = next((root / "images" / split).glob(f"{stem}.*"))
        assert image.stat().st_ino == next((parent / "images" / old[stem]).glob(f"{stem}.*")).stat().st_ino
        assert (root / "labels" / split / f"{stem}.txt").read_bytes() == (parent / "labels" / old[stem] / f"{stem}.txt").read_bytes()
    assert {p: p.stat().st_mtime_ns for p in parent.rglob("*")} == before  # the parent is left as it was
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert (data["train"], data["val"], data["test"]) == ("images/train", "images/val", "images/test")
    record = ws.dataset("fam@v2")
    assert record["diff"]["resplit"] == {"seed": 1, "val_fraction": 0.25, "moved": r["moved"], "families": r["families"]}
    assert (record["base"], record["parent"]) == ("fam", "fam")
    version_report = json.loads((root / "report.json").read_text())
    assert version_report["split_method"].startswith("re-split by family from fam: seeded split stratified by class, each family")
    assert version_report["families"]["crossing_count"] == r["crossing_after"]
    assert version_report["images"] == r["images"] and version_report["version"]["diff"] == record["diff"]
    assert [v["diff"] for v in yolov11.dataset_versions("fam", workspace=ws)][1]["resplit"]["seed"] == 1
    again = yolov11.resplit_dataset("fam", val_fraction=0.25, seed=1, workspace=ws)  # the same seed: the same split
    assert again["name"] == "fam@v3" and _layout(Path(again["path"])) == new
    edited = yolov11.edit_labels("fam@v2", image=sorted(new)[0] + ".jpg", boxes=[], workspace=ws)  # a label edit keeps the families
    assert json.loads((Path(edited["path"]) / "report.json").read_text())["families"] == version_report["families"]


def test_the_cli_resplits_and_refuses_bad_flags_in_one_line(crossing, capsys, monkeypatch):
    ws, _, _ = crossing
    monkeypatch.setenv("YOLOV11_WORKSPACE", str(ws.root))  # the CLI sets it from --workspace
    assert cli_main(["--workspace", str(ws.root), "resplit", "--data", "fam", "--val-fraction", "0.3", "--seed", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["parent"] == "fam" and ws.dataset(out["name"])["diff"]["resplit"]["val_fraction"] == 0.3
    assert cli_main(["--workspace", str(ws.root), "resplit", "--data", "fam", "--val-fraction", "1.5"]) == 2
    assert capsys.readouterr().err.strip() == "error: --val-fraction 1.5: must be between 0 and 1 (exclusive)"
    assert cli_main(["--workspace", str(ws.root), "resplit", "--data", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --data nope: not a dataset of workspace") and "\n" not in err


def test_the_page_shows_the_families_and_resplits_through_the_endpoint(crossing):
    """The view's handlers called directly, then /resplit_dataset through gradio_client on a
    served app that mounts the view as the Data tab does."""
    from pages.common import AppContext
    from pages.resplit_view import build_resplit, show_crossing

    ws, report, _ = crossing
    with gr.Blocks() as blocks:
        ctx = AppContext(workspace=ws, jobs=yolov11.TrainingJobs(ws), blocks=blocks)
        picked = gr.Dropdown(label="Dataset", choices=["fam"], value="fam", allow_custom_value=True)
        build_resplit(ctx, picked)
    callout, row, pairs = show_crossing(ctx, "fam")
    n = report["families"]["crossing_count"]
    assert callout["visible"] and row["visible"] and f"{n} families of augmented copies cross the splits" in callout["value"]
    assert len(pairs["value"]) == n and all(Path(path).is_file() for path, _ in pairs["value"])
    first = report["families"]["crossing"][0]
    assert pairs["value"][0][1] == f"family of {first['size']}: {first['pair'][0]} ↔ {first['pair'][1]}"
    _, url, _ = blocks.queue().launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        message, result, picker = client.predict("fam", 0.2, 4, api_name="/resplit_dataset")
        with pytest.raises(Exception, match="--data nope: not a dataset of workspace"):  # an API client gets the core's words
            client.predict("nope", 0.2, 4, api_name="/resplit_dataset")
    finally:
        blocks.close()
    assert picker["value"] == result["name"] and ws.dataset(result["name"])["diff"]["resplit"]["seed"] == 4
    assert message.startswith("Saved **fam\\@v") and f"{result['moved']} image(s) moved" in message  # names shown as text
    callout, row, _ = show_crossing(ctx, result["name"])  # the new version: nothing crosses train and val
    assert result["crossing_after"] == 0 or "test" in os.listdir(Path(result["location"]) / "images")
    assert callout["visible"] == bool(result["crossing_after"])
