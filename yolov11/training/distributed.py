"""Multi-GPU and multi-node training through torchrun.

Ultralytics' own DDP path re-launches training from a generated file and drops our callbacks.
So we launch torchrun ourselves around our own CLI: every rank runs ``python -m yolov11 train``
with the same flags and the same run id, builds the same trainer and callbacks, and only rank 0
writes events.jsonl and the registry. The launching process (the app or the CLI) follows that
file like any other run's.

Stop: the launcher writes ``<run dir>/STOP``; rank 0 sees it after a batch, and an all-reduce
hands the flag to every rank in that same batch (ranks must leave the loop together, or the
next collective hangs). SIGTERM on a rank (a cancel, a cluster pre-emption) sets the same flag.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from yolov11.errors import UserError
from yolov11.training.events import read_events

STOP_FILE = "STOP"  # in the run folder: asks a torchrun-launched run to stop after this batch
LAUNCH_LOG = "torchrun.log"  # the launcher's and every rank's console output
FOLLOW_INTERVAL = 0.25  # seconds between reads of events.jsonl while a launched run trains
KILL_GRACE = 300  # seconds a stopped run may take to validate and save before it is terminated
KILL_AFTER_TERM = 60  # then torchrun has this long (it gives its ranks 30 s) before SIGKILL


@dataclass
class Launch:
    """Where the ranks of one training run: torchrun's own flags."""

    nproc_per_node: int = 1  # processes (GPUs) on each machine
    nnodes: int = 1  # machines
    node_rank: int = 0  # which machine this one is: 0 hosts the rendezvous and writes the events
    master_addr: str = "127.0.0.1"  # address of node 0, reachable from every node
    master_port: int = 29500  # a free TCP port on node 0

    def problems(self) -> dict[str, str]:
        out = {}
        for name in ("nproc_per_node", "nnodes"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                out[name] = f"--{name.replace('_', '-')} {getattr(self, name)}: must be a positive integer"
        if not isinstance(self.node_rank, int) or not 0 <= self.node_rank < max(int(self.nnodes or 1), 1):
            out["node_rank"] = f"--node-rank {self.node_rank}: must be between 0 and --nnodes minus 1"
        if not str(self.master_addr).strip() or any(c.isspace() for c in str(self.master_addr)):
            out["master_addr"] = f"--master-addr {self.master_addr!r}: give node 0's host name or IP address"
        if not isinstance(self.master_port, int) or not 1 <= self.master_port <= 65535:
            out["master_port"] = f"--master-port {self.master_port}: must be a TCP port (1-65535)"
        return out

    def validate(self) -> "Launch":
        problems = self.problems()
        if problems:
            raise UserError(next(iter(problems.values())))
        return self


def gpu_ids(device: str) -> list[str]:
    """'0,1' -> ['0', '1']; 'cpu' -> []."""
    text = str(device).strip().lower().replace("cuda:", "")
    return [] if text in ("", "cpu") else text.split(",")


def free_port() -> int:
    """A TCP port free on this machine now: each single-machine launch gets its own, so two
    runs on different GPUs do not fight over torchrun's default 29500."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_launch(device: str) -> Launch:
    """One process per GPU of ``device`` on this machine."""
    return Launch(nproc_per_node=max(len(gpu_ids(device)), 1), master_port=free_port())


def in_torchrun() -> bool:
    """Whether this process is one rank of a torchrun launch (torchrun sets LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ


def rank() -> int:
    """This process's global rank; -1 outside torchrun."""
    return int(os.environ.get("RANK", -1)) if in_torchrun() else -1


def is_primary() -> bool:
    """Whether this process records the run (events, registry): rank 0, or a plain process."""
    return rank() in (-1, 0)


def torchrun_command(train_argv: list[str], launch: Launch, executable: str | None = None) -> list[str]:
    """The command that runs ``python -m yolov11 <train_argv>`` on every rank of one node.

    ``executable`` None: this interpreter (to launch here); "torchrun": the form to show people
    who run it on another machine.
    """
    launch.validate()
    head = ["torchrun"] if executable == "torchrun" else [executable or sys.executable, "-m", "torch.distributed.run"]
    return [
        *head,
        f"--nproc-per-node={launch.nproc_per_node}",
        f"--nnodes={launch.nnodes}",
        f"--node-rank={launch.node_rank}",
        f"--master-addr={launch.master_addr}",
        f"--master-port={launch.master_port}",
        "-m",
        "yolov11",
        *train_argv,
    ]


def node_commands(train_argv: list[str], launch: Launch) -> list[str]:
    """One shell line per node (node 0 first): what to run on each machine of the cluster."""
    return [
        shlex.join(torchrun_command(
            train_argv, Launch(launch.nproc_per_node, launch.nnodes, k, launch.master_addr, launch.master_port), "torchrun"
        ))
        for k in range(launch.nnodes)
    ]


def train_argv(workspace_root: Path, data: str, model: str, settings: dict, run_id: str) -> list[str]:
    """``python -m yolov11`` arguments that make each rank train run ``run_id`` with ``settings``
    (TrainSettings fields by name; anything else travels as --extra JSON)."""
    import json

    from yolov11.training.settings import TrainSettings

    argv = ["--workspace", str(workspace_root), "train", "--data", str(data), "--model", str(model), "--run-id", run_id]
    known = {f for f in TrainSettings.__dataclass_fields__ if f not in ("model", "extra")}
    for name, value in settings.items():
        if name in known and value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value).lower() if isinstance(value, bool) else str(value)]
    extra = {k: v for k, v in settings.items() if k not in known and k != "extra"} | dict(settings.get("extra") or {})
    if extra:
        argv += ["--extra", json.dumps(extra)]
    return argv


def plan(data: str, model: str, launch: Launch, workspace=None, run_id: str | None = None, **settings) -> dict:
    """The torchrun command of every node for one training run, checked but not started:
    ``{"run", "nnodes", "nproc_per_node", "world_size", "commands"}`` (node 0's first)."""
    from yolov11.training.settings import TrainSettings, normalize_device
    from yolov11.workspace import Workspace

    device = normalize_device(settings.get("device", "cpu"), present=False)  # the GPUs are on the nodes
    TrainSettings.of(model, **{**settings, "device": "cpu"})  # every other field, as for a real run
    check_launch(launch, device)
    ws = Workspace.at(workspace)
    run_id = run_id or ws.new_run_id(str(model))
    argv = train_argv(ws.root, data, model, {**settings, "device": device}, run_id)
    n = launch.nproc_per_node
    return {
        "run": run_id, "nnodes": launch.nnodes, "nproc_per_node": n, "world_size": n * launch.nnodes,
        "commands": node_commands(argv, launch),
    }


def check_launch(launch: Launch, device: str) -> None:
    """One process per GPU named in --device; on the CPU, any number of processes (gloo)."""
    launch.validate()
    gpus = gpu_ids(device)
    if gpus and len(gpus) != launch.nproc_per_node:
        raise UserError(
            field="--nproc-per-node", value=launch.nproc_per_node,
            detail=f"--device {device} names {len(gpus)} GPU(s); give one GPU per process",
        )


def world() -> int:
    """How many ranks train together: torchrun's WORLD_SIZE, 1 outside torchrun."""
    return int(os.environ.get("WORLD_SIZE", 1)) if in_torchrun() else 1


def adopt_world_size(trainer) -> None:
    """Ultralytics counts the world as this machine's GPUs (a CPU as 0); under torchrun it is
    every rank: across several machines, and CPU ranks, which we wrap in DDP ourselves (the batch
    split, the DDP group and the loss scale follow it)."""
    from yolov11.compat.trainer import on_cpu, set_world_size, use_cpu_ranks, world_size

    if not in_torchrun():
        return
    if on_cpu(trainer):
        if world() > 1:
            use_cpu_ranks(trainer, world())
    elif world_size(trainer) > 1:
        set_world_size(trainer, world())


def ensure_process_group(trainer) -> bool:
    """Join torchrun's process group when Ultralytics will not (it does so when it trains on
    several GPUs): CPU ranks need the gloo group for DDP, the distributed sampler and the stop
    broadcasts. Call after the trainer is built (resumed runs learn their device from the
    checkpoint). Returns whether this call created it."""
    import torch.distributed as dist

    from yolov11.compat.trainer import world_size

    if not in_torchrun() or world_size(trainer) > 1 or dist.is_initialized():  # > 1: GPUs, whose group Ultralytics makes
        return False
    dist.init_process_group("gloo")  # env:// rendezvous from torchrun's MASTER_ADDR/PORT, RANK, WORLD_SIZE
    return True


def stop_requested(local: bool, device) -> bool:
    """``local`` OR-ed over all ranks (one tiny all-reduce), so every rank agrees in the same batch."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    flag = torch.tensor([1.0 if local else 0.0], device=device)  # NCCL needs the rank's own GPU
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "remote worker", "NCCL communicator was aborted")


def peer_lost(exc: BaseException) -> str:
    """What to tell a rank's user when a collective failed because another rank is gone ("" when
    ``exc`` is something else): gloo and NCCL report it as a socket error."""
    if not in_torchrun() or not isinstance(exc, RuntimeError) or not any(s in str(exc) for s in PEER_LOST):
        return ""
    return (f"rank {rank()} of {world()} lost the others: another training process of this run ended "
            f"(killed, out of memory, or failed: its own lines are in {LAUNCH_LOG})")


def stop_on_sigterm(stop: threading.Event) -> None:
    """A rank told to terminate stops after its batch like a requested stop (a torchrun rank's
    main thread only: a notebook or the app keeps its own handler)."""
    if in_torchrun() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())


def run_launched(
    cmd: list[str],
    run_dir: Path,
    stop: threading.Event,
    on_event: Callable[[dict], None] | None = None,
) -> int:
    """Run a torchrun command to its end; returns its exit code.

    Follows the run's events.jsonl meanwhile (``on_event`` gets each new event), turns ``stop``
    into the STOP file, and kills the whole process group if a stopped run does not end within
    KILL_GRACE seconds. Ctrl-C here asks for a stop; a second Ctrl-C kills.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / STOP_FILE).unlink(missing_ok=True)
    events_path, offset, asked_at, termed_at = run_dir / "events.jsonl", 0, None, None
    if events_path.exists():  # a resumed run: only new events are news
        offset = events_path.stat().st_size
    package_root = str(Path(__file__).resolve().parents[2])  # the ranks import this very yolov11
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    with open(run_dir / LAUNCH_LOG, "ab") as log:
        log.write(f"$ {shlex.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            while proc.poll() is None:
                try:
                    time.sleep(FOLLOW_INTERVAL)
                except KeyboardInterrupt:
                    if asked_at is not None:
                        raise
                    stop.set()
                if stop.is_set() and asked_at is None:
                    (run_dir / STOP_FILE).touch()
                    asked_at = time.time()
                if asked_at is not None and termed_at is None and time.time() - asked_at > KILL_GRACE:
                    os.killpg(proc.pid, signal.SIGTERM)  # once: torchrun passes it on, then SIGKILLs its ranks
                    termed_at = time.time()
                if termed_at is not None and time.time() - termed_at > KILL_AFTER_TERM:
                    os.killpg(proc.pid, signal.SIGKILL)
                offset = _forward(events_path, offset, on_event)
        except BaseException:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=KILL_AFTER_TERM)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            _forward(events_path, offset, on_event)
            (run_dir / STOP_FILE).unlink(missing_ok=True)
    return proc.returncode


def _forward(path: Path, offset: int, on_event: Callable[[dict], None] | None) -> int:
    if on_event is None:
        return offset
    events, offset = read_events(path, offset)
    for event in events:
        on_event(event)
    return offset


def log_tail(run_dir: Path, lines: int = 20) -> str:
    """The end of the launch log: what a failed launch said."""
    path = run_dir / LAUNCH_LOG
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:])
