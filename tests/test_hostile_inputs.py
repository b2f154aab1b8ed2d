"""Hostile input through the CLI, in process: every case is refused with one clear line (exit 2)
or imported with the problem reported, never a traceback, never a write outside the workspace,
never a hang, and never a registry row left behind by a refusal.

The cases live in tests/hostile/ (each builds its input in its own tmp folder, next to
``outside/`` canaries). Import cases get a workspace of their own inside that folder; train,
model, predict, eval, export, publish and resume cases share one module workspace holding a
tiny imported dataset and a finished 1-epoch run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

import pytest

import yolov11
from yolov11.__main__ import main
from yolov11.data.archive import ZipLimits, extract_zip

import hostile as hc
from helpers import write_yolo_folder

pytestmark = pytest.mark.timeout(120)

CASES = hc.by_id()
ENV = "YOLOV11_WORKSPACE"


@pytest.fixture(autouse=True)
def _keep_workspace_env():
    """main() sets YOLOV11_WORKSPACE from --workspace: put it back after every test."""
    saved = os.environ.get(ENV)
    yield
    _restore(saved)


def _restore(saved: str | None) -> None:
    if saved is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = saved


def run_cli(argv: list[str], capsys) -> tuple[int, str, str, float]:
    """``python -m yolov11 *argv`` in this process: (exit code, stdout, stderr, seconds)."""
    saved = os.environ.get(ENV)
    capsys.readouterr()
    t0 = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's errors
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        elapsed = time.perf_counter() - t0
        _restore(saved)
    out, err = capsys.readouterr()
    return code, out, err, elapsed


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> hc.Ctx:
    """One workspace with a tiny imported dataset and a finished 1-epoch run (imgsz 32)."""
    saved = os.environ.get(ENV)
    base = tmp_path_factory.mktemp("hostile-shared")
    ws = yolov11.Workspace.at(base / "ws")
    try:
        data = yolov11.import_dataset(write_yolo_folder(base / "tiny", n_images=8, size=64), name="tiny", workspace=ws)
        r = yolov11.train(data["name"], "yolov11n", workspace=ws, epochs=1, imgsz=32, batch=4, workers=0, seed=0, close_mosaic=0,
                          warmup_epochs=0, plots=False)
    finally:
        _restore(saved)
    assert r["status"] == "done", r
    assert Path(r["weights"]).is_file(), r
    return hc.Ctx(tmp=base, shared=ws.root, dataset=data["name"], run=r["run"], best=Path(r["weights"]))


def _files(root: Path, skip: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_relative_to(skip) and (p.is_file() or p.is_symlink())}


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _registry(ws: Path) -> tuple[list[str], list[tuple[str, str]]]:
    w = yolov11.Workspace.at(ws)
    return [d["name"] for d in w.datasets()], [(r["id"], r["status"]) for r in w.runs()]


def _has(text: str, fragment: hc.Fragment) -> bool:
    return all(f in text for f in ((fragment,) if isinstance(fragment, str) else fragment))


def _refusal_problems(c: hc.Case, code: int, err: str) -> list[str]:
    problems = []
    if code != 2:
        problems.append(f"exit code {code}, expected 2")
    lines = err.strip().splitlines()
    if len(lines) != 1:
        problems.append(f"stderr has {len(lines)} lines, expected exactly one")
    line = lines[0] if lines else ""
    if c.argparse:
        if "error: " not in line:
            problems.append("stderr is not argparse's one 'error: ' line")
    elif not line.startswith("error: "):
        problems.append("stderr does not start with 'error: '")
    problems += [f"stderr lacks {f!r}" for f in c.fragments if not _has(err, f)]
    return problems


def _import_problems(c: hc.Case, ctx: hc.Ctx, code: int, out: str) -> tuple[list[str], dict | None]:
    if code != 0:
        return [f"exit code {code}, expected 0 (imported)"], None
    try:
        report = json.loads(out)
    except ValueError as exc:
        return [f"stdout is not one JSON document ({exc})"], None
    problems = [f"no issue holds {f!r}" for f in c.fragments if not any(_has(i, f) for i in report.get("issues", []))]
    if c.check:
        try:
            c.check(report, ctx)
        except AssertionError as exc:
            problems.append(f"check failed: {exc}")
    canary = _digest(ctx.tmp / hc.CANARY_JPG)
    leaked = [str(p) for p in Path(report["path"]).rglob("*")
              if p.is_file() and p.suffix.lower() in (".jpg", ".png") and _digest(p) == canary]
    if leaked:
        problems.append(f"outside/canary.jpg was imported: {leaked}")
    if hc.SECRET in out:
        problems.append("outside/canary.txt's text is in the report")
    return problems, report


@pytest.mark.parametrize("case_id", list(CASES))
def test_hostile_input(case_id: str, shared: hc.Ctx, tmp_path: Path, capsys) -> None:
    c = CASES[case_id]
    hc.make_outside(tmp_path)
    ctx = hc.Ctx(tmp=tmp_path, shared=shared.shared, dataset=shared.dataset, run=shared.run, best=shared.best)
    ws = shared.shared if c.shared else tmp_path / "ws"
    argv = c.build(ctx)
    before_files = _files(tmp_path, ws)
    canaries = {p: _digest(tmp_path / p) for p in before_files if p.startswith("outside/")}
    before_registry = _registry(ws)

    code, out, err, elapsed = run_cli(["--workspace", str(ws), argv[0], "--json", *argv[1:]], capsys)

    problems: list[str] = []
    if "Traceback" in out or "Traceback" in err:
        problems.append("a Traceback was printed")
    if elapsed >= min(c.max_s, 30.0):
        problems.append(f"took {elapsed:.1f} s (bound {min(c.max_s, 30.0):.0f} s)")
    expect = c.expect
    if expect == "either":
        expect = "imported" if code == 0 else "refused"
    if expect == "refused":
        problems += _refusal_problems(c, code, err)
        after_registry = _registry(ws)
        if after_registry[0] != before_registry[0]:
            problems.append(f"datasets changed: {before_registry[0]} -> {after_registry[0]}")
        if after_registry[1] != before_registry[1]:
            new = sorted(set(after_registry[1]) - set(before_registry[1]))
            problems.append(f"runs changed by a refused command: {new}")
        scratch = sorted(p.name for p in (ws / "datasets").glob(".import-*"))
        if scratch:
            problems.append(f"import scratch left behind: {scratch}")
    else:
        more, _ = _import_problems(c, ctx, code, out)
        problems += more
        after_names = _registry(ws)[0]
        if len(after_names) != len(before_registry[0]) + 1:
            problems.append(f"expected one new dataset, registry has {after_names}")
    if c.after:
        try:
            c.after(ctx)
        except AssertionError as exc:
            problems.append(f"after-check failed: {exc}")
    for rel in c.forbidden:
        if (tmp_path / rel).exists() or (tmp_path / rel).is_symlink():
            problems.append(f"{rel} was created (a payload ran or a write escaped)")
    after_files = _files(tmp_path, ws)
    if after_files != before_files:
        problems.append(f"files outside the workspace changed: added {sorted(after_files - before_files)}, "
                        f"removed {sorted(before_files - after_files)}")
    changed = [p for p, d in canaries.items() if not (tmp_path / p).is_file() or _digest(tmp_path / p) != d]
    if changed:
        problems.append(f"canaries changed: {changed}")

    assert not problems, (
        f"case {case_id} ({c.expect}):\n  " + "\n  ".join(problems)
        + f"\ncommand: python -m yolov11 --workspace {ws} {argv[0]} --json {' '.join(argv[1:])[:400]}"
        + f"\nexit code: {code}, {elapsed:.2f} s\nstderr:\n{err[-3000:]}\nstdout:\n{out[:3000]}"
    )


def test_zip_file_count_cap(tmp_path: Path) -> None:
    """The 200,000-file cap, lowered: 11 members against a cap of 10, refused before writing."""
    src = tmp_path / "many.zip"
    with zipfile.ZipFile(src, "w") as zf:
        for i in range(11):
            zf.writestr(f"hats/labels/{i}.txt", "0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(yolov11.UserError, match="11 files exceed the cap of 10"):
        extract_zip(src, tmp_path / "out", ZipLimits(max_files=10))
    assert not (tmp_path / "out").exists()


def test_still_works_after_the_hostile_cases(shared: hc.Ctx, tmp_path: Path, capsys) -> None:
    """After everything above, this process imports a good dataset, and no run is left queued."""
    src = hc.zip_tree(tmp_path / "good.zip", hc.yolo_files())
    code, out, err, _ = run_cli(["--workspace", str(tmp_path / "ws"), "import", str(src), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["name"] == "good"
    assert sum(report["images"].values()) == hc.BASE_IMAGES
    assert report["boxes"] == hc.BASE_BOXES
    stuck = [(r["id"], r["status"]) for r in yolov11.Workspace.at(shared.shared).runs() if r["status"] in ("queued", "running")]
    assert not stuck, f"runs left queued or running in the shared workspace: {stuck}"


def test_trusted_weights_do_run_their_code(tmp_path: Path) -> None:
    """The explicit opt-in works: a trusted .pt loads unrestricted, payload included."""
    from yolov11 import checkpoints

    pwned = tmp_path / "trust-canary" / "pwned"
    pwned.parent.mkdir()
    evil = hc.evil_pt(tmp_path / "evil.pt", pwned)
    with pytest.raises(yolov11.UserError, match="posix.system"):
        checkpoints.load(evil)  # not trusted: refused, and nothing ran
    assert not pwned.exists()
    yolov11.trust_weights(evil)
    try:
        try:
            checkpoints.load(evil)
        except yolov11.UserError:
            pass  # the payload returned os.system's exit code, not a model: refused after it ran
        assert pwned.exists(), "a trusted checkpoint should load unrestricted"
    finally:
        checkpoints._TRUSTED.discard(checkpoints._digest(evil))  # trust is process-wide: do not leak it to other tests
