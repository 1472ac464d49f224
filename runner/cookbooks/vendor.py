"""``runner cookbooks vendor DIR``: the cookbooks a stack uses, copied into one directory (berks vendor).

Each cookbook found first along the search path becomes ``DIR/<name>/``, so ``{path: DIR}``
alone is a search path giving the same cookbooks. The copy is made in a temporary directory
beside DIR and renamed into place: DIR is either what it was or the whole new set. Symbolic
links are copied as links when they stay inside their cookbook; a link leaving it (or dangling),
and any file that is neither a file, a directory nor a link, stops the vendoring before DIR is
touched. ``__pycache__`` and ``.git`` directories are left out.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from runner.cookbooks.cookbook import Cookbook
from runner.errors import Location, UserError

SKIPPED_DIRS: frozenset[str] = frozenset({"__pycache__", ".git"})
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # what a recipe name can refer to (cookbook_set.split_recipe)


def vendor(cookbooks: Sequence[Cookbook], directory: str | Path, *, force: bool = False) -> dict[str, int]:
    """Copy ``cookbooks`` into ``directory``; the number of files copied, by cookbook name.

    :raises UserError: ``directory`` is not a directory, is not empty (without ``force``), holds or
        lies inside one of the cookbooks, or a cookbook has a link leaving it or a special file.
    """
    target = Path(directory).absolute()
    _check_target(target, cookbooks, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.vendor-", dir=target.parent))
    try:
        staging = scratch / target.name
        staging.mkdir()  # not the scratch directory itself: mkdtemp's mode is 0700, this one follows the umask
        counts = {book.name: copy_cookbook(book.path, staging / book.name) for book in cookbooks}
        _swap(staging, target)
    except OSError as exc:
        raise UserError(f"cannot vendor the cookbooks into {target}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return counts


def _check_target(target: Path, cookbooks: Sequence[Cookbook], force: bool) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UserError(f"{target}: not a directory", hint="give a directory to vendor the cookbooks into")
    real = target.resolve()
    for book in cookbooks:
        if not _NAME.match(book.name):
            raise UserError(f"cookbook name '{book.name}' cannot be a directory name; not vendored",
                            Location.of(book.metadata_path or book.path))
        root = book.path.resolve()
        if real == root or real in root.parents or root in real.parents:
            raise UserError(f"{target}: holds or lies inside cookbook '{book.name}' ({book.path})",
                            hint="vendor into a directory outside the stack's cookbook sources")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise UserError(f"{target}: exists and is not empty", hint="--force replaces its content")


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` in the place of ``target``. An old ``target`` is moved beside ``staging`` (where
    the caller removes it) only to be replaced, and back when the replacing fails."""
    if not target.exists():
        os.rename(staging, target)
        return
    old = staging.with_name(f"{target.name}.old")
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old, target)
        raise


def copy_cookbook(source: Path, destination: Path) -> int:
    """Copy one cookbook tree without following any link; the number of files (links included) copied.

    :raises UserError: a link that leaves the cookbook or dangles, or a special file (fifo, socket, device).
    """
    root = source.resolve()
    destination.mkdir()
    copied = 0
    for current, dirs, files in os.walk(source, followlinks=False):  # bounded: links are not followed
        here = Path(current)
        relative = here.relative_to(source)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in [*dirs, *sorted(files)]:
            path = here / name
            out = destination / relative / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                _copy_link(path, out, root)
                copied += 1
            elif stat.S_ISDIR(mode):
                out.mkdir()
            elif stat.S_ISREG(mode):
                shutil.copy2(path, out, follow_symlinks=False)
                copied += 1
            else:
                raise UserError(f"{path}: not a regular file, directory or link; not vendored")
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    return copied


def _copy_link(link: Path, out: Path, root: Path) -> None:
    """Recreate ``link`` at ``out``, relative, when it points at something inside its cookbook."""
    pointed = link.resolve()
    if not pointed.exists() or (pointed != root and root not in pointed.parents):
        raise UserError(f"{link}: link to {os.readlink(link)} leaves the cookbook (or dangles); not vendored",
                        hint="make it a copy, or a link inside the cookbook")
    os.symlink(os.path.relpath(pointed, link.parent.resolve()), out)
