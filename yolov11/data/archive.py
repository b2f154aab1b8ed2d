"""Safe extraction of an untrusted dataset zip.

A zip from the internet may try to write outside its folder (absolute names, ``..``,
symlinks) or to exhaust the disk (decompression bombs, one big member or many small ones).
``extract_zip`` checks every member before writing anything (names, links, encryption,
compression method, the member count, the total expanded size against the cap, the disk's free
space and the archive's overall ratio) and counts the bytes again while extracting, so a
header that lies cannot get past either; it refuses the whole archive with one clear message
and leaves nothing behind.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from yolov11.errors import UserError, os_error_text

SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".7z", ".rar")


@dataclass(frozen=True)
class ZipLimits:
    """Caps against decompression bombs; defaults fit datasets of ~100k images."""

    max_files: int = 200_000  # COCO train2017 has 118k images; more is not a detection export
    max_total_bytes: int = 50 * 2**30  # 50 GiB uncompressed
    max_ratio: float = 200.0  # images and labels compress ~1-10x; 200x is a bomb
    ratio_floor: int = 64 * 2**20  # archives expanding to less than this are not judged by ratio (labels-only zips compress well)


def _member_path(name: str, where: Path) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UserError(f"{where}: refused, member {name!r} has an absolute path")
    if ".." in path.parts:
        raise UserError(f"{where}: refused, member {name!r} points outside the archive ('..')")
    return path


def _check_member(m: zipfile.ZipInfo, name: str, limits: ZipLimits) -> None:
    if stat.S_ISLNK(m.external_attr >> 16):
        raise UserError(f"{name}: refused, member {m.filename!r} is a symbolic link")
    if m.flag_bits & 0x1:
        raise UserError(f"{name}: refused, member {m.filename!r} is encrypted (zip it again without a password)")
    if m.compress_type not in SUPPORTED_METHODS:
        raise UserError(
            f"{name}: member {m.filename!r} uses compression method {m.compress_type}, "
            "which Python cannot unpack (zip it again with Deflate)"
        )
    if m.compress_size and m.file_size / m.compress_size > limits.max_ratio and m.file_size > 2**20:
        raise UserError(f"{name}: refused, member {m.filename!r} expands {m.file_size / m.compress_size:.0f}x (zip bomb?)")


def _check_totals(src: Path, members: list[zipfile.ZipInfo], dest: Path, limits: ZipLimits) -> None:
    if len(members) > limits.max_files:
        raise UserError(f"{src.name}: refused, {len(members)} files exceed the cap of {limits.max_files}")
    total = sum(m.file_size for m in members)
    if total > limits.max_total_bytes:
        raise UserError(
            f"{src.name}: refused, {total / 2**30:.1f} GiB uncompressed exceeds the cap of {limits.max_total_bytes / 2**30:.0f} GiB"
        )
    ratio = total / max(src.stat().st_size, 1)
    if total > limits.ratio_floor and ratio > limits.max_ratio:
        raise UserError(
            f"{src.name}: refused, {src.stat().st_size / 2**20:.1f} MiB expand to {total / 2**30:.2f} GiB ({ratio:.0f}x): "
            "a zip bomb, not a dataset"
        )
    free = shutil.disk_usage(dest if dest.exists() else dest.parent).free
    if total > free:
        raise UserError(f"{src.name}: needs {total / 2**30:.2f} GiB unpacked but the workspace disk has {free / 2**30:.2f} GiB free")


def _copy_counted(fin, fout, budget: int, name: str) -> int:
    """Copy one member, stopping at ``budget`` bytes: what the headers declared, re-checked."""
    written = 0
    while block := fin.read(1 << 20):
        written += len(block)
        if written > budget:
            raise UserError(f"{name}: refused, members expand beyond the sizes their headers declare (zip bomb?)")
        fout.write(block)
    return written


def extract_zip(src: Path, dest: Path, limits: ZipLimits = ZipLimits()) -> list[str]:
    """Extract ``src`` into ``dest`` (created); returns warnings (e.g. skipped nested archives).

    Raises UserError, leaving nothing behind, when the archive is broken or unsafe.
    """
    src = Path(src)
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UserError(f"{src.name}: not a readable zip archive ({exc})") from None
    warnings: list[str] = []
    with zf:
        members = zf.infolist()
        dest.parent.mkdir(parents=True, exist_ok=True)
        _check_totals(src, members, dest, limits)
        plan = []
        for m in members:
            rel = _member_path(m.filename, Path(src.name))
            _check_member(m, src.name, limits)
            if m.is_dir() or rel.name.startswith("._") or "__MACOSX" in rel.parts:
                continue
            if rel.name.lower().endswith(ARCHIVE_SUFFIXES):
                warnings.append(f"{m.filename}: nested archive skipped (unpack it and zip the contents instead)")
                continue
            plan.append((m, rel))
        dest.mkdir(parents=True, exist_ok=True)
        budget = sum(m.file_size for m, _ in plan)
        try:
            for m, rel in plan:
                target = dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as fin, open(target, "wb") as fout:
                    budget -= _copy_counted(fin, fout, budget, src.name)
        except UserError:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            reason = os_error_text(exc) if isinstance(exc, OSError) and exc.errno else f"{type(exc).__name__}: {exc}"
            raise UserError(f"{src.name}: member {m.filename!r} could not be extracted ({reason})") from None
    return warnings
