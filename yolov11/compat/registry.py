"""Wraps ultralytics.nn.tasks.parse_model: model YAMLs may name our modules, and every graph is
checked (``graph_check``) before Ultralytics builds it.

The modules themselves live above the fence (``yolov11.nn``): ``yolov11.nn.registered`` hands
them and the graph check to ``install``. Ultralytics' ``parse_model`` finds modules in its own globals and computes channel arguments
only for modules it knows (by identity). Rather than editing its source, ``install()`` wraps
it: each row naming one of our modules is first built as a *stand-in* that Ultralytics sizes
the same way (CBAM keeps channels like ``nn.Identity``; SPPFWide maps c1 -> c2 like ``SPPF``;
AttnDetect takes the per-level channels like ``Detect``). A dry run (1x3x64x64) then tells each
layer's input channels at the chosen width scale, and our module replaces its stand-in with
the same ``i``/``f``/``type`` bookkeeping. Errors name the YAML row and module at fault.

Relies on: ``nn.tasks.parse_model(d, ch, verbose)`` (wrapped, looked up as a module global of
``nn.tasks`` by DetectionModel), that it resolves a row's module name among ``nn.tasks``'
globals and sizes channels only for modules it knows by identity (``SPPF``, ``Detect``,
``nn.Identity`` here), and the ``i``/``f``/``type``/``np`` bookkeeping of each built layer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch

from yolov11.compat import check_version
from yolov11.errors import UserError


@dataclass(frozen=True)
class Registered:
    stand_in: str  # an Ultralytics module parse_model already sizes like ours
    stand_in_args: Callable[[list], list]  # our YAML args -> args the stand-in accepts
    build: Callable[[object, list, torch.nn.Module], torch.nn.Module]  # (input channels, YAML args, stand-in) -> ours


def _input_channels(model: torch.nn.Sequential, ch: int) -> dict[int, int | list[int]]:
    """Channels entering each layer, from a dry run of the layer graph (as BaseModel runs it)."""
    was_training = model.training
    model.eval()
    y, c_in = [], {}
    x = torch.zeros(1, ch, 64, 64)
    with torch.no_grad():
        for m in model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            c_in[m.i] = x.shape[1] if isinstance(x, torch.Tensor) else [t.shape[1] for t in x]
            if m is model[-1]:
                break  # the head's output is not needed (and runs no shape-only pass: meta-device builds)
            x = m(x)
            y.append(x)
    model.train(was_training)
    return c_in


def _named(name: str, tasks) -> object:
    """What parse_model would resolve ``name`` to (None when nothing)."""
    import torchvision

    if name.startswith("nn."):
        return getattr(torch.nn, name[3:], None)
    if name.startswith("torchvision.ops."):
        return getattr(torchvision.ops, name[16:], None)
    return getattr(tasks, name, None)


def _is_layer(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, torch.nn.Module)


def _check_rows(d: dict, ours: dict[str, Registered]) -> None:
    from ultralytics.nn import tasks

    for i, (f, n, m, args) in enumerate(d.get("backbone", []) + d.get("head", [])):
        name = str(m)
        known = name in ours or _is_layer(_named(name, tasks))  # parse_model calls what a row names: layers only
        if not known:
            raise UserError(f"model YAML row {i} [{f}, {n}, {name}, {args}]: unknown module {name!r} (ours: {', '.join(ours)})")


def install(layers: Callable[[], dict[str, Registered]], check_graph: Callable[[dict], None]) -> None:
    """Wrap ultralytics.nn.tasks.parse_model (idempotent); refuses untested Ultralytics versions.
    ``layers``: our modules by YAML name (``yolov11.nn.registered``, which calls this through
    ``offline.when_prepared``); ``check_graph``: the check every graph passes first."""
    from ultralytics.nn import tasks
    from ultralytics.utils import LOGGER

    if getattr(tasks.parse_model, "yolov11_registry", False):
        return
    check_version()  # parse_model's internals differ between releases
    original = tasks.parse_model

    def parse_model(d, ch, verbose=True):
        ours = layers()
        check_graph(d)  # every build: a YAML, or the graph dict inside a .pt (Ultralytics eval()s its activation)
        _check_rows(d, ours)
        rows = d["backbone"] + d["head"]
        mine = {i: r for i, r in enumerate(rows) if r[2] in ours}
        if not mine:
            return original(d, ch, verbose)
        shadow = copy.deepcopy(d)
        for row in shadow["backbone"] + shadow["head"]:
            if row[2] in ours:
                row[2], row[3] = ours[row[2]].stand_in, ours[row[2]].stand_in_args(list(row[3]))
        model, save = original(shadow, ch, verbose)
        c_in = _input_channels(model, ch)
        for i, (f, n, name, args) in mine.items():
            old = model[i]
            try:
                new = ours[name].build(c_in[i], list(args), old)
            except Exception as exc:  # a bad argument list in the YAML
                raise UserError(f"model YAML row {i} [{f}, {n}, {name}, {args}]: {type(exc).__name__}: {exc}") from None
            new.i, new.f, new.type = old.i, old.f, f"yolov11.nn.{name}"
            new.np = sum(p.numel() for p in new.parameters())
            model[i] = new
            if verbose:
                LOGGER.info(f"{i:>3} {name} replaces its stand-in: {new.np:,} parameters, input channels {c_in[i]}")
        return model, save

    parse_model.yolov11_registry = True
    tasks.parse_model = parse_model
