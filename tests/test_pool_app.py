"""The pool's endpoints through gradio_client, against a real server: /pool_add (uploads only),
/prelabel, /pool_queue, /pool_accept, /pool_reject, /pool_list, each action with its same call."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import yolov11

from helpers import serving, write_yolo_folder


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("pool-app")
    ws = yolov11.Workspace.at(base / "ws")
    dataset = yolov11.import_dataset(write_yolo_folder(base / "hardhat-tiny"), workspace=ws)["name"]
    run = yolov11.train(dataset, "yolov11n", epochs=1, imgsz=64, batch=4, workers=0, workspace=ws, plots=False)["run"]
    with serving(ws) as url:
        yield {"url": url, "ws": ws, "dataset": dataset, "run": run, "base": base}


def test_the_pool_through_the_api(served, tmp_path):
    client, dataset = Client(served["url"], verbose=False), served["dataset"]
    photos = []
    for k in range(3):
        rgb = np.random.default_rng(40 + k).integers(0, 255, (96, 128, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(tmp_path / f"site{k}.jpg")
        photos.append(tmp_path / f"site{k}.jpg")
    said, table, code = client.predict(dataset, [handle_file(p) for p in photos], 1.0, api_name="/pool_add")
    assert said.startswith("**3** added to the pool of **hardhat-tiny**"), said
    assert len(table["data"]) == 3 and {row[1] for row in table["data"]} == {"new"}
    assert "yolov11.pool_add(" in code and "python -m yolov11 pool-add site0.jpg site1.jpg site2.jpg" in code
    said, table, code = client.predict(dataset, served["run"], 0.25, api_name="/prelabel")
    assert said.startswith("**3** item(s) pre-labelled") and {row[1] for row in table["data"]} == {"suggested"}
    table, code = client.predict(dataset, "random", 2, 1, api_name="/pool_queue")
    ids = [row[0] for row in table["data"]]
    assert len(ids) == 2 and "--strategy random" in code
    said, table, code, picker = client.predict(dataset, ids[0], api_name="/pool_accept")
    assert said.startswith(f"Saved **{dataset}\\@v2**")  # md_text escapes "@" (no mention links)
    assert picker["value"] == dataset and [c[0] for c in picker["choices"]] == [f"{dataset}@v2", dataset]
    said, table, code = client.predict(dataset, ids[1], api_name="/pool_reject")
    assert said == "1 item(s) rejected." and f"pool-reject --data {dataset} --items {ids[1]}" in code
    rejected = client.predict(dataset, "rejected", api_name="/pool_list")
    assert [i["id"] for i in rejected["items"]] == [ids[1]] and rejected["items"][0]["state"] == "rejected"
    assert served["ws"].dataset(f"{dataset}@v2") is not None


def test_the_pool_refuses_what_it_should_in_one_line(served, tmp_path):
    client, dataset = Client(served["url"], verbose=False), served["dataset"]
    photo = next((served["base"] / "hardhat-tiny" / "images" / "train").iterdir())
    with pytest.raises(Exception, match="--data : not a dataset"):
        client.predict("", [handle_file(photo)], 1.0, api_name="/pool_add")
    with pytest.raises(Exception, match="Invalid file type"):  # the picker's types, checked by Gradio on arrival
        client.predict(dataset, [handle_file(served["base"] / "hardhat-tiny" / "data.yaml")], 1.0, api_name="/pool_add")
    with pytest.raises(Exception, match="SOURCE : add photos, videos or a zip of them first"):
        client.predict(dataset, [], 1.0, api_name="/pool_add")
    with pytest.raises(Exception, match="--items nope: not an item of hardhat-tiny's pool"):
        client.predict(dataset, "nope", api_name="/pool_accept")
    with pytest.raises(Exception, match="--run or --weights: give exactly one of them"):
        client.predict(dataset, "", 0.25, api_name="/prelabel")
    assert client.predict("", api_name="/training_status")["status"] in ("none", "done")  # the app keeps serving
