"""YAML from strangers (a dataset zip's data.yaml, an uploaded model YAML), read with bounds.

``yaml.safe_load`` builds no arbitrary objects, but a file of a few hundred bytes can still hold
a "billion laughs" of aliases (each list naming the previous one ten times): the document is
small in memory, and the first ``str()`` or walk of it takes minutes (nine levels of ten make
10^9 strings from 90 aliases). Before anything is built, the event stream (linear in the file's
size, aliases not expanded) is scanned and the size of the document *as expanded* counted:
files over ``MAX_BYTES``, expanding to more than ``MAX_NODES`` values, with more than
``MAX_ALIASES`` aliases or nested deeper than ``MAX_DEPTH`` are refused with one message, fast.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from yolov11.errors import UserError

MAX_BYTES = 1 << 20  # a data.yaml or model YAML is a few KB; 1 MiB holds 10,000 class names
MAX_ALIASES = 100  # hand-written files use a few (if any); bombs use thousands
MAX_DEPTH = 64  # model and data YAMLs nest 3-4 levels
MAX_NODES = 200_000  # values once aliases are expanded: 10,000 class names are 10,001

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlRefused(UserError):
    """A YAML file refused for its size, aliases or depth (not merely invalid)."""


def read_yaml_text(path: Path) -> str:
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlRefused(
            f"{path.name}: refused, {size / 2**20:.1f} MiB is too large for a YAML settings file (at most {MAX_BYTES // 2**20} MiB)"
        )
    return path.read_bytes().decode("utf-8-sig", errors="replace")


def _check_events(text: str, where: str) -> None:
    """Walk the events once: ``open`` holds [anchor, expanded size] of each collection being
    read, ``sizes`` the expanded size of every anchor seen, so an alias costs its anchor's size."""
    bomb = f"{where}: refused, its YAML aliases (*name) expand beyond {MAX_NODES:,} values: an alias bomb, not a settings file"
    sizes: dict[str, int] = {}
    open_: list[list] = [[None, 0]]
    aliases = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            open_.append([event.anchor, 1])
            if len(open_) > MAX_DEPTH:
                raise YamlRefused(f"{where}: refused, YAML nested more than {MAX_DEPTH} levels deep")
            continue
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = open_.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlRefused(f"{where}: refused, more than {MAX_ALIASES} YAML aliases (*name): an alias bomb, not a settings file")
            anchor, size = None, sizes.get(event.anchor, 1)
        else:
            continue
        if anchor:
            sizes[anchor] = size
        open_[-1][1] += size
        if open_[-1][1] > MAX_NODES:
            raise YamlRefused(bomb)


def parse_yaml(text: str, where: str) -> object:
    """The document of ``text`` (``where`` names it in messages); UserError when it is not YAML
    or goes beyond the bounds above."""
    try:
        _check_events(text, where)
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{where}{line}: not valid YAML ({problem})") from None
    except RecursionError:
        raise YamlRefused(f"{where}: refused, YAML nested too deeply") from None


def load_yaml(path: str | Path, where: str | None = None) -> object:
    """The document of the YAML file ``path``, read with the bounds above."""
    path = Path(path)
    return parse_yaml(read_yaml_text(path), where or path.name)
