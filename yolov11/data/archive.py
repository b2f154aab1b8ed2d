"""Safe extraction of an untrusted dataset zip.

A zip from the internet may try to write outside its folder (absolute names, ``..``,
symlinks) or to exhaust the disk (decompression bombs). ``extract_zip`` checks every member
before writing anything and refuses the whole archive with one clear message otherwise.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from yolov11.errors import UserError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".7z", ".rar")


@dataclass(frozen=True)
class ZipLimits:
    """Caps against decompression bombs; defaults fit datasets of ~100k images."""

    max_files: int = 200_000  # COCO train2017 has 118k images; more is not a detection export
    max_total_bytes: int = 50 * 2**30  # 50 GiB uncompressed
    max_ratio: float = 200.0  # images and labels compress ~1-10x; 200x is a bomb


def _member_path(name: str, where: Path) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UserError(f"{where}: refused, member {name!r} has an absolute path")
    if ".." in path.parts:
        raise UserError(f"{where}: refused, member {name!r} points outside the archive ('..')")
    return path


def extract_zip(src: Path, dest: Path, limits: ZipLimits = ZipLimits()) -> list[str]:
    """Extract ``src`` into ``dest`` (created); returns warnings (e.g. skipped nested archives).

    Raises UserError, leaving nothing behind, when the archive is broken or unsafe.
    """
    src = Path(src)
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{src.name}: not a readable zip archive ({exc})") from None
    warnings: list[str] = []
    with zf:
        members = zf.infolist()
        if len(members) > limits.max_files:
            raise UserError(f"{src.name}: refused, {len(members)} files exceed the cap of {limits.max_files}")
        total = sum(m.file_size for m in members)
        if total > limits.max_total_bytes:
            raise UserError(f"{src.name}: refused, {total / 2**30:.1f} GiB uncompressed exceeds the cap")
        plan = []
        for m in members:
            rel = _member_path(m.filename, Path(src.name))
            if stat.S_ISLNK(m.external_attr >> 16):
                raise UserError(f"{src.name}: refused, member {m.filename!r} is a symbolic link")
            if m.compress_size and m.file_size / m.compress_size > limits.max_ratio and m.file_size > 2**20:
                raise UserError(f"{src.name}: refused, member {m.filename!r} expands {m.file_size / m.compress_size:.0f}x (zip bomb?)")
            if m.is_dir() or rel.name.startswith("._") or "__MACOSX" in rel.parts:
                continue
            if rel.name.lower().endswith(ARCHIVE_SUFFIXES):
                warnings.append(f"{m.filename}: nested archive skipped (unpack it and zip the contents instead)")
                continue
            plan.append((m, rel))
        dest.mkdir(parents=True, exist_ok=True)
        try:
            for m, rel in plan:
                target = dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as fin, open(target, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise UserError(f"{src.name}: member {m.filename!r} could not be extracted ({exc})") from None
    return warnings
