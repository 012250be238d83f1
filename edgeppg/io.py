"""Atomic, deterministic file writes and hashing. Every artifact goes through here."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)
# Fixed zip timestamp so the same arrays always give the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename over it only if the block finishes (crash = old file kept)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared like any new file
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """numpy scalars/arrays and Paths to plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and (obj != obj):
        return None  # NaN is not JSON
    return obj


def dumps_json(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, dumps_json(obj))


def read_json_doc(path: str | os.PathLike, schema: str, what: str, fix: str) -> dict:
    """A JSON document edgeppg wrote (sidecar, manifest): exists, bounded in size and depth, parses, has the
    expected schema, else one clear line. Callers validate the keys they use (edgeppg.schema)."""
    from edgeppg.errors import EdgePPGError
    from edgeppg.schema import read_json_file, shown

    path = Path(path)
    doc = read_json_file(path, what, fix)
    got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
    if got != schema:
        raise EdgePPGError(f"{what} {path} has schema {shown(got, 80)}, expected {schema!r}; {fix}")
    return doc


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """np.savez with fixed entry order and timestamps: same arrays -> byte-identical file, written atomically."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue())
    return Path(path)


MAX_NPZ_BYTES = 1 << 30  # decompressed, all arrays together: 250M float32 samples, far above any corpus edgeppg makes
MAX_NPZ_MEMBERS = 256


def npz_budget(path: str | os.PathLike, limit: int = MAX_NPZ_BYTES) -> int:
    """Decompressed bytes of every array in an .npz, from the zip directory AND each .npy header, checked
    against `limit` BEFORE anything is inflated or allocated (a 3 MB zip bomb or a header claiming 10^12
    elements is refused, not attempted)."""
    from edgeppg.errors import EdgePPGError

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_NPZ_MEMBERS:
                raise EdgePPGError(f"{path} holds {len(infos)} arrays (limit {MAX_NPZ_MEMBERS})")
            total = 0
            for info in infos:
                if info.file_size > limit:
                    raise EdgePPGError(f"{path}: array {info.filename} inflates to {info.file_size} bytes, over the "
                                       f"{limit}-byte limit; refusing to decompress it")
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _fortran, dtype = read_header(fh, max_header_size=10000)
                if dtype.hasobject:
                    raise EdgePPGError(f"{path}: array {info.filename} holds Python objects (pickle); refusing it")
                n = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if n > info.file_size:
                    raise EdgePPGError(f"{path}: array {info.filename} declares {n} bytes in a {info.file_size}-byte "
                                       "member; the file is corrupt or hostile")
                total += n
            if total > limit:
                raise EdgePPGError(f"{path} inflates to {total} bytes, over the {limit}-byte limit; refusing to load it")
            return total
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError) as exc:
        raise EdgePPGError(f"{path} is not a readable .npz ({type(exc).__name__}: {str(exc)[:120]})") from None


def load_npz(path: str | os.PathLike, limit: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """Load every array (never pickle), sizes checked first (`npz_budget`)."""
    npz_budget(path, limit)
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
