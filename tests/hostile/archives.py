"""Hostile cases, group A: archives (zip slip, links, encryption, bombs, broken and odd zips)."""

from __future__ import annotations

import stat
import tarfile
import zipfile

from . import BASE_BOXES, BASE_IMAGES, Ctx, add, both, boxes, case, images_total, imp, patch_member, yolo_files, yolo_folder, zip_tree


# === A. archives =====================================================================================
def _zip_with(ctx: Ctx, extra: list[tuple], name: str = "hats.zip", **kw) -> list[str]:
    return imp(zip_tree(ctx.tmp / name, yolo_files(), extra=extra, **kw))


add("zip-slip-dotdot", lambda c: _zip_with(c, [("../outside/x", b"pwned")]), "refused", "hats.zip", "'../outside/x'", "outside the archive")
add("zip-slip-deep", lambda c: _zip_with(c, [("../../../../../outside/x", b"pwned")]), "refused", "'../../../../../outside/x'",
    "outside the archive")
add("zip-slip-inside-path", lambda c: _zip_with(c, [("hats/../../outside/x", b"pwned")]), "refused", "outside the archive")
add("zip-slip-dir-entry", lambda c: _zip_with(c, [("../outside/", b"")]), "refused", "outside the archive")
add("zip-absolute-member", lambda c: _zip_with(c, [(str(c.tmp / "outside" / "x"), b"pwned")]), "refused", "hats.zip", "absolute path")
add("zip-drive-path", lambda c: _zip_with(c, [("C:/outside/x", b"pwned")]), "refused", "'C:/outside/x'", "absolute path")
add("zip-unc-path", lambda c: _zip_with(c, [("\\\\server\\share\\x", b"pwned")]), "refused", "absolute path")
add("zip-backslash-dotdot", lambda c: _zip_with(c, [("..\\outside\\x", b"pwned")]), "refused", "outside the archive")
add("zip-dot-slash-dotdot", lambda c: _zip_with(c, [("./../outside/x", b"pwned")]), "refused", "'./../outside/x'", "outside the archive")


@case("zip-symlink-member", "refused", "hats/link", "symbolic link")
def _(ctx: Ctx) -> list[str]:
    info = zipfile.ZipInfo("hats/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip_with(ctx, [(info, b"../../outside/canary.txt")])


@case("zip-encrypted-member", "refused", "hats/secret.txt", "encrypted")
def _(ctx: Ctx) -> list[str]:
    info = zipfile.ZipInfo("hats/secret.txt")
    info.flag_bits |= 0x1  # zipfile resets it while writing: patched in the headers below too
    argv = _zip_with(ctx, [(info, b"ciphertext, supposedly")])
    patch_member(ctx.tmp / "hats.zip", "hats/secret.txt", 6, 8, lambda v: v | 0x1)
    return argv


@case("zip-unsupported-method", "refused", "hats/odd.txt", "compression method 99")
def _(ctx: Ctx) -> list[str]:
    argv = _zip_with(ctx, [("hats/odd.txt", b"stored bytes")], method=zipfile.ZIP_STORED)
    patch_member(ctx.tmp / "hats.zip", "hats/odd.txt", 8, 10, lambda v: 99)
    return argv


MIB_ZEROS = bytes(1 << 20)


@case("zip-bomb-many-members", "refused", "hats.zip", "zip bomb", max_s=10)
def _(ctx: Ctx) -> list[str]:
    return _zip_with(ctx, [(f"hats/pad/z{i:02d}.bin", MIB_ZEROS) for i in range(70)])  # 70 MiB expanded, ~1000x


@case("zip-bomb-single-member", "refused", "hats.zip", "zip bomb", max_s=10)
def _(ctx: Ctx) -> list[str]:
    return _zip_with(ctx, [("hats/labels/huge.txt", bytes(100 << 20))])  # 100 MiB of zeros: ~1000x


@case("zip-not-a-zip", "refused", "data.zip", "not a readable zip")
def _(ctx: Ctx) -> list[str]:
    (ctx.tmp / "data.zip").write_bytes(b"this is not a zip archive at all\n" * 20)
    return imp(ctx.tmp / "data.zip")


@case("zip-empty-file", "refused", "empty.zip", "not a readable zip")
def _(ctx: Ctx) -> list[str]:
    (ctx.tmp / "empty.zip").write_bytes(b"")
    return imp(ctx.tmp / "empty.zip")


@case("zip-no-members", "refused", "no supported format")
def _(ctx: Ctx) -> list[str]:
    zipfile.ZipFile(ctx.tmp / "nothing.zip", "w").close()
    return imp(ctx.tmp / "nothing.zip")


@case("zip-truncated", "refused", "cut.zip", "not a readable zip")
def _(ctx: Ctx) -> list[str]:
    whole = zip_tree(ctx.tmp / "whole.zip", yolo_files()).read_bytes()
    (ctx.tmp / "whole.zip").unlink()
    (ctx.tmp / "cut.zip").write_bytes(whole[: len(whole) // 2])
    return imp(ctx.tmp / "cut.zip")


add("zip-member-name-300", lambda c: _zip_with(c, [("hats/" + "a" * 300 + ".txt", b"0 0.5 0.5 0.1 0.1\n")]), "refused", "hats.zip",
    "too long")
add("zip-only-macosx",
    lambda c: imp(zip_tree(c.tmp / "mac.zip", {},
                           extra=[("__MACOSX/hats/._t0.jpg", b"\x00\x05\x16\x07junk"), ("__MACOSX/._hats", b"junk")])),
    "refused", "no supported format")
add("zip-no-images", lambda c: imp(zip_tree(c.tmp / "docs.zip", {"readme.txt": "hello\n", "notes.json": "{}", "a/b/c.md": "# hi\n"})),
    "refused", "no supported format")


@case("archive-tar-gz", "refused", "hats.tar.gz", "expected a .zip")
def _(ctx: Ctx) -> list[str]:
    folder = yolo_folder(ctx)
    with tarfile.open(ctx.tmp / "hats.tar.gz", "w:gz") as tf:
        tf.add(folder, arcname="hats")
    return imp(ctx.tmp / "hats.tar.gz")


add("zip-file-and-folder-same-name", lambda c: _zip_with(c, [("hats/clash", b"a file"), ("hats/clash/inner.txt", b"and a folder")]),
    "refused", "hats.zip", "clash")
add("zip-nested-archive", lambda c: _zip_with(c, [("hats/more.zip", zip_tree(c.tmp / "inner.zip", {"x.txt": "1"}).read_bytes())]),
    "imported", ("hats/more.zip", "nested archive skipped"), check=images_total(BASE_IMAGES))
add("zip-appledouble-files",
    lambda c: _zip_with(c, [("hats/images/train/._t0.jpg", b"\x00\x05\x16\x07AppleDouble"),
                            ("hats/labels/train/._t0.txt", b"\x00\x05\x16\x07")]),
    "imported", check=both(images_total(BASE_IMAGES), boxes(BASE_BOXES)))
