"""What to fix next (issue 25), on the shared background runs: the quick-preset run of the demo set
with 30 % of its labels corrupted (train and val) is told first to fix its suspicious labels,
naming images that hold a corruption; the run whose train split has about 10 "head" boxes is told
first to label more heads. Every action has its fields, a gain, words on how rough it is and a
command the CLI parses; the CLI prints the same JSON."""

from __future__ import annotations

import json
import shlex

import pytest

import yolov11
from yolov11.__main__ import main as cli_main
from yolov11.cli.parser import build_parser

FIELDS = {"kind", "title", "expected_gain", "how", "evidence", "command"}


@pytest.fixture(scope="module")
def corrupted_advice(corrupted_run) -> dict:
    return yolov11.advise(corrupted_run["run"], "val", workspace=corrupted_run["ws"])


def _check_actions(result: dict) -> None:
    parser = build_parser()
    gains = [a["expected_gain"] for a in result["actions"]]
    assert gains == sorted(gains, reverse=True)  # best first
    for a in result["actions"]:
        assert set(a) == FIELDS and a["kind"] in yolov11.ADVICE_KINDS and a["how"] and a["title"]
        words = shlex.split(a["command"])
        assert words[:3] == ["python", "-m", "yolov11"] and parser.parse_args(words[3:]).func is not None


def test_corrupted_labels_come_first_and_name_corrupted_images(corrupted_run, corrupted_advice):
    r = corrupted_advice
    _check_actions(r)
    top = r["actions"][0]
    assert top["kind"] == "fix_labels", [(a["kind"], a["expected_gain"]) for a in r["actions"]]
    assert top["expected_gain"] > 0 and top["evidence"]["flagged"] > 0 and "label-issues --run" in top["command"]
    corrupted = {c["image"] for c in corrupted_run["corruptions"] if c["split"] == "val"}
    named = top["evidence"]["images"]
    assert named and sum(image in corrupted for image in named) >= len(named) / 2, (named, sorted(corrupted)[:10])
    assert set(r["breakdown"]["gains"]) == {"classification", "localisation", "both", "duplicate", "background", "missed"}
    assert yolov11.saved_advice(corrupted_run["run"], "val", workspace=corrupted_run["ws"]) == json.loads(json.dumps(r))


def test_the_starved_class_comes_first(starved_run):
    r = yolov11.advise(starved_run["run"], "val", workspace=starved_run["ws"])
    _check_actions(r)
    top = r["actions"][0]
    assert top["kind"] == "more_data", [(a["kind"], a["expected_gain"]) for a in r["actions"]]
    assert top["evidence"]["class"] == "head" and "head" in top["title"]
    rows = {row["class"]: row for row in top["evidence"]["per_class"]}
    assert rows["head"]["train_boxes"] == starved_run["train_heads"] <= 10 < min(rows["helmet"]["train_boxes"], rows["vest"]["train_boxes"])


def test_the_cli_prints_the_advice_and_refuses_a_bad_split(corrupted_run, corrupted_advice, monkeypatch, capsys):
    monkeypatch.setenv("YOLOV11_WORKSPACE", str(corrupted_run["ws"].root))  # what --workspace does, undone after the test
    assert cli_main(["advise", "--run", corrupted_run["run"], "--json"]) == 0
    assert [a["kind"] for a in json.loads(capsys.readouterr().out)["actions"]] == [a["kind"] for a in corrupted_advice["actions"]]
    assert cli_main(["advise", "--run", corrupted_run["run"]]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"{corrupted_run['run']} on val: mAP50-95")
    assert "1. Fix the " in said and "   do: python -m yolov11 label-issues" in said
    with pytest.raises(SystemExit) as bad:
        cli_main(["advise", "--run", corrupted_run["run"], "--split", "nope"])
    assert bad.value.code == 2 and "--split" in capsys.readouterr().err
    assert cli_main(["advise", "--run", "no-such-run"]) == 2
    assert "no-such-run" in capsys.readouterr().err
