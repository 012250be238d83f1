"""Output folders: checked before any work, and never emptied unless edgeppg made them.

Every folder edgeppg creates and may later delete or replace (a run folder, each stage folder in it, an
export folder) carries a marker file `.edgeppg` naming what it is. `edgeppg` removes or replaces a folder
only when it holds that marker (or is empty); a folder without it is the user's, and the command stops
with one line instead of touching it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from edgeppg.errors import EdgePPGError

MARKER = ".edgeppg"


def check_writable(path: str | os.PathLike, what: str = "--out") -> Path:
    """`path` can be a folder edgeppg writes into: not an existing file, and its nearest existing ancestor (or
    itself) accepts a new file. Checked by creating and removing a probe file, so read-only mounts are caught."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise EdgePPGError(f"{what} {path} exists and is not a folder; choose a folder path")
    probe_dir = path
    while not probe_dir.exists():
        parent = probe_dir.parent
        if parent == probe_dir:
            break
        probe_dir = parent
    if not probe_dir.is_dir():
        raise EdgePPGError(f"{what} {path}: {probe_dir} is a file, so the folder cannot be created; choose another path")
    try:
        with tempfile.TemporaryFile(dir=probe_dir, prefix=".edgeppg-probe-"):
            pass
    except OSError as exc:
        raise EdgePPGError(f"{what} {path} is not writable ({exc.strerror} in {probe_dir}); choose a writable folder") from None
    return path


def has_marker(folder: Path) -> bool:
    return (Path(folder) / MARKER).is_file()


def write_marker(folder: Path, kind: str) -> None:
    (Path(folder) / MARKER).write_text(json.dumps({"owner": "edgeppg", "kind": kind}) + "\n")


def only_markers(folder: Path) -> bool:
    """True when `folder` is empty but for edgeppg's own marker."""
    return all(p.name == MARKER for p in Path(folder).iterdir())


def claim(folder: Path, kind: str, what: str, legacy=None) -> Path:
    """Make `folder` edgeppg's: create it with a marker, or accept it when it is empty, already marked, or
    `legacy(folder)` recognises an edgeppg folder from before markers. Anything else is refused."""
    folder = Path(folder)
    check_writable(folder, what)
    if folder.is_dir() and not has_marker(folder) and any(folder.iterdir()) and not (legacy and legacy(folder)):
        raise EdgePPGError(f"{what} {folder} is a non-empty folder edgeppg did not create (no {MARKER} marker); "
                           "edgeppg would overwrite or delete files in it — choose a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    if not has_marker(folder):
        write_marker(folder, kind)
    return folder
