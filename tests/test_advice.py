"""What to fix next (issue 25), on the shared background runs: the quick-preset run of the demo set
with 30 % of its labels corrupted (train and val) is told first to fix its suspicious labels (its
train labels scored in-sample), naming images that hold a corruption; the run whose train split has about 10 "head" boxes is told
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
    """Fixing the labels comes first, counting both splits: the val errors on flagged val labels and
    the errors the flagged train labels teach, the train labels scored in-sample by the run's own
    model (no k-fold score is saved). Measured on this seeded run (2026-12-06 VM, deterministic
    there): fix_labels +0.133 (val part 0.138 AP50, train part 0.017 from 267 flagged train labels,
    all 160 of their images corrupted) against train_longer +0.128 (the 12-epoch run still rises);
    without the train part train_longer led by 0.009 here, while fix_labels led on the VMs before."""
    r = corrupted_advice
    _check_actions(r)
    kinds = [(a["kind"], a["expected_gain"]) for a in r["actions"]]
    top = r["actions"][0]
    assert top["kind"] == "fix_labels", kinds
    assert top["expected_gain"] > 0 and top["evidence"]["flagged"] > 0 and "label-issues --run" in top["command"]
    corrupted = {c["image"] for c in corrupted_run["corruptions"] if c["split"] == "val"}
    named = top["evidence"]["images"]
    assert named and sum(image in corrupted for image in named) >= len(named) / 2, (named, sorted(corrupted)[:10])
    assert top["evidence"]["train_gain50"] > 0 and "scored in-sample" in top["how"]
    train = yolov11.saved_label_issues(corrupted_run["run"], "train", workspace=corrupted_run["ws"], in_sample=True)
    assert train["in_sample"] is True and train["split"] == "train"
    flagged = {i["image"] for i in train["issues"] if i["score"] >= 0.5}
    corrupted_train = {c["image"] for c in corrupted_run["corruptions"] if c["split"] == "train"}
    assert flagged and top["evidence"]["train_flagged"] > 0
    assert len(flagged & corrupted_train) >= 0.8 * len(flagged), (len(flagged & corrupted_train), len(flagged))  # 160 of 160 measured
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
    rank = 1 + [a["kind"] for a in corrupted_advice["actions"]].index("fix_labels")
    assert f"{rank}. Fix the " in said and "   do: python -m yolov11 label-issues" in said
    with pytest.raises(SystemExit) as bad:
        cli_main(["advise", "--run", corrupted_run["run"], "--split", "nope"])
    assert bad.value.code == 2 and "--split" in capsys.readouterr().err
    assert cli_main(["advise", "--run", "no-such-run"]) == 2
    assert "no-such-run" in capsys.readouterr().err


def test_flagged_train_labels_count_by_the_errors_they_teach(corrupted_run, corrupted_advice):
    """The train split's part of fix_labels (on_errors._train_part): a share s of the train labels
    flagged as a kind stands for the share s of the val errors of the TIDE type it teaches, so the
    part is the sum of s x that type's oracle, worked out by hand here on the run's real breakdown."""
    from dataclasses import replace

    from yolov11.advice.evidence import gather
    from yolov11.advice.on_errors import fix_labels

    ev = gather(corrupted_run["run"], "val", corrupted_run["ws"], lambda fraction, message: None)
    alone = fix_labels(replace(ev, train_issues=None))
    assert alone["evidence"]["train_flagged"] == 0 and "train labels are not scored" in alone["how"]
    image = "images/train/" + sorted((ev.ws.resolve_data(ev.dataset).parent / "images" / "train").iterdir())[0].name
    box = [10.0, 10.0, 60.0, 60.0]
    flagged = ([{"image": image, "kind": "missing", "class": None, "box": None, "suggested_box": box, "score": 0.9}] * 4
               + [{"image": image, "kind": "wrong_class", "class": "helmet", "box": box, "suggested_box": None, "score": 0.8}] * 6
               + [{"image": image, "kind": "badly_located", "class": "helmet", "box": box, "suggested_box": box, "score": 0.4}] * 5)
    both = fix_labels(replace(ev, train_issues={"labels": 200, "issues": flagged}))
    gains = ev.breakdown["gains"]
    by_hand = 4 / 200 * gains["missed"] + 6 / 200 * gains["classification"]  # the badly located ones score under 0.5: not flagged
    assert both["evidence"]["train_flagged"] == 10 and both["evidence"]["train_by_kind"] == {"missing": 4, "wrong_class": 6}
    assert both["evidence"]["train_gain50"] == pytest.approx(by_hand, abs=1e-4) and by_hand > 0
    assert both["expected_gain"] == pytest.approx((alone["evidence"]["split_gain50"] + by_hand) * ev.ratio, abs=2e-4)
    assert both["expected_gain"] > alone["expected_gain"] and "10 train" in both["title"] and "teach the model" in both["how"]
    assert both["evidence"]["review_split"] == ("train" if by_hand > alone["evidence"]["split_gain50"] else "val")
    assert both["command"].endswith(f"--split {both['evidence']['review_split']}")


def test_recall_by_size_bins_objects_as_the_model_sees_them():
    """By hand: a 640x320 image shrunk to imgsz 320 (x0.5); objects of side 6, 12, 20, 20 and 80 px
    are seen at 3, 6, 10, 10 and 40 px; a detection matches the 12 px one and one 20 px one."""
    from yolov11.advice.by_size import recall_by_size
    from yolov11.eval.error_types import analyse

    sides = [6, 12, 20, 20, 80]
    gt = {"images": [{"id": 1, "width": 640, "height": 320, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "helmet"}],
          "annotations": [{"id": k + 1, "image_id": 1, "category_id": 1, "bbox": [100.0 * k, 10.0, s, s], "area": s * s, "iscrowd": 0}
                          for k, s in enumerate(sides)]}
    dt = [{"image_id": 1, "category_id": 1, "bbox": [100.0, 10.0, 12.0, 12.0], "score": 0.9},
          {"image_id": 1, "category_id": 1, "bbox": [200.0, 10.0, 20.0, 20.0], "score": 0.8}]
    rows = recall_by_size(gt, analyse(gt, dt), 320)
    assert rows == [{"px": "0-4", "objects": 1, "found": 0, "recall": 0.0}, {"px": "5.66-8", "objects": 1, "found": 1, "recall": 1.0},
                    {"px": "8-11.3", "objects": 2, "found": 1, "recall": 0.5}, {"px": "32-inf", "objects": 1, "found": 0, "recall": 0.0}]
    assert recall_by_size(gt, analyse(gt, dt), 640)[0] == {"px": "5.66-8", "objects": 1, "found": 0, "recall": 0.0}  # not shrunk


def test_small_objects_adds_the_steps_of_the_tiles_and_the_pixels_they_give_back(tmp_path):
    """By hand: one 1280x320 frame at imgsz 320 (shrunk x0.25), three 16 px helmets (seen at 4 px)
    at x = 50, 300 and 1100. Its 320 px tiles at overlap 0.2 start at x = 0, 256, 512, 768 and 960:
    three hold a helmet (0 and 256 hold the one at 300, 960 the one at 1100), two are empty and
    round(0.2 x 3) = 1 of them is kept, so 4 tiles a frame: 2 doublings of the steps. The curve rises
    0.01 an epoch over 10 epochs: 0.01 x 10 / 2 = 0.05 a doubling, 0.10 for the steps. Pixels: one
    true positive (0.9), one detection misplaced on the helmet at 50 (0.8, IoU 0.39), the helmet at
    1100 missed: AP50 34/101 (precision 1 up to recall 1/3); fixing both small errors makes it 1, so
    67/101 AP50, x (0.2 / 0.4) = 0.3317."""
    from yolov11.advice.evidence import Evidence
    from yolov11.advice.on_tiles import small_objects
    from yolov11.eval.error_types import breakdown

    gt = {"images": [{"id": 1, "width": 1280, "height": 320, "file_name": "images/val/f.jpg"}], "categories": [{"id": 0, "name": "helmet"}],
          "annotations": [{"id": k + 1, "image_id": 1, "category_id": 0, "bbox": [x, 10.0, 16.0, 16.0], "area": 256.0, "iscrowd": 0}
                          for k, x in enumerate((50.0, 300.0, 1100.0))]}
    dt = [{"image_id": 1, "category_id": 0, "bbox": [300.0, 10.0, 16.0, 16.0], "score": 0.9},
          {"image_id": 1, "category_id": 0, "bbox": [54.0, 14.0, 16.0, 16.0], "score": 0.8}]
    evaluation = {"metrics": {"mAP50-95": 0.2, "mAP50": 0.4}, "error_breakdown": breakdown(gt, dt)}
    rising = [{"mAP50-95": 0.01 * (e + 1)} for e in range(10)]
    ev = Evidence(yolov11.Workspace.at(tmp_path / "ws"), "r", "val", {"dataset": "yard", "settings": {"imgsz": 320}}, evaluation, gt, dt,
                  {}, rising, None, None)
    act = small_objects(ev)
    assert act["evidence"]["tiles_per_image"] == 4.0 and act["evidence"]["steps_gain"] == pytest.approx(0.10, abs=1e-4)
    assert act["evidence"]["pixels_gain"] == pytest.approx(67 / 101 * 0.5, abs=1e-4)
    assert act["expected_gain"] == pytest.approx(0.10 + 67 / 101 * 0.5, abs=2e-4) and "2.0 doublings" in act["how"]
    assert shlex.split(act["command"])[3:] == ["tile", "--data", "yard", "--size", "320", "--overlap", "0.2", "--advice", "r:small_objects"]
    flat = small_objects(Evidence(ev.ws, "r", "val", ev.record, evaluation, gt, dt, {}, [{"mAP50-95": 0.1}] * 10, None, None))
    assert flat["evidence"]["steps_gain"] == 0 and flat["expected_gain"] == pytest.approx(67 / 101 * 0.5, abs=1e-4)
    assert "flattened" in flat["how"]
    whole = Evidence(ev.ws, "r", "val", {"dataset": "yard", "settings": {"imgsz": 1280}}, evaluation, gt, dt, {}, rising, None, None)
    assert small_objects(whole) is None  # not shrunk: tiles give nothing back
