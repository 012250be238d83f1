"""Read an export folder and prove its artifacts are the ones its manifest describes (sha256, bytes).

Everything `verify` and `check` measure comes from these files, so integrity is checked FIRST: a tampered,
truncated or missing artifact stops the run with one line before any interpreter touches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeppg.errors import EdgePPGError
from edgeppg.io import read_json_doc, sha256_file

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "edgeppg.manifest/1"
TFLITE = "student_int8.tflite"
ONNX_INT8 = "student_int8.onnx"
HELDOUT = "heldout.npz"
PARITY = "parity.json"
# verify cannot run without these; the rest of the manifest's artifacts are still sha-checked.
REQUIRED = (TFLITE, HELDOUT)
_REEXPORT = "re-run `edgeppg export` to regenerate the folder"


@dataclass(frozen=True)
class ExportDir:
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return name in self.manifest.get("artifacts", {}) and self.file(name).is_file()

    @property
    def model_bytes(self) -> int:
        return int(self.file(TFLITE).stat().st_size)


def load_manifest(export_dir: str | Path) -> tuple[dict[str, Any], str]:
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise EdgePPGError(f"export folder {export_dir} not found; create it with `edgeppg export --student CKPT --out DIR`")
    path = export_dir / MANIFEST
    if not path.is_file():
        raise EdgePPGError(f"{export_dir} has no {MANIFEST}; it is not an export folder ({_REEXPORT})")
    manifest = read_json_doc(path, MANIFEST_SCHEMA, "export manifest", _REEXPORT)
    for key in ("model", "input", "outputs", "artifacts"):
        if key not in manifest:
            raise EdgePPGError(f"{path} lacks the {key!r} section; {_REEXPORT}")
    return manifest, sha256_file(path)


def verify_artifacts(export_dir: str | Path, required: tuple[str, ...] = REQUIRED) -> ExportDir:
    """sha256 + size of every artifact the manifest lists; refuse on the first mismatch/missing file.
    `required`: artifacts the caller cannot work without (verify: the model and the held-out windows)."""
    export_dir = Path(export_dir)
    manifest, msha = load_manifest(export_dir)
    arts = manifest["artifacts"]
    if not isinstance(arts, dict) or not arts:
        raise EdgePPGError(f"{export_dir / MANIFEST} lists no artifacts; {_REEXPORT}")
    for name in required:
        if name not in arts:
            raise EdgePPGError(f"{export_dir / MANIFEST} does not list {name}, which verify needs; {_REEXPORT}")
    for name in sorted(arts):
        entry = arts[name]
        path = export_dir / name
        if not isinstance(entry, dict) or "sha256" not in entry:
            raise EdgePPGError(f"manifest entry for artifact {name} has no sha256; {_REEXPORT}")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise EdgePPGError(f"manifest artifact path {name!r} points outside the export folder; {_REEXPORT}")
        if not path.is_file():
            raise EdgePPGError(f"artifact {name} listed in the manifest is missing from {export_dir}; {_REEXPORT}")
        got = sha256_file(path)
        if got != entry["sha256"]:
            raise EdgePPGError(
                f"artifact {name} was modified after export: sha256 {got[:12]}… does not match the manifest's "
                f"{str(entry['sha256'])[:12]}…; refusing to verify a tampered or mismatched export ({_REEXPORT})"
            )
        if "bytes" in entry and int(entry["bytes"]) != path.stat().st_size:
            raise EdgePPGError(
                f"artifact {name} is {path.stat().st_size} bytes but the manifest says {entry['bytes']}; {_REEXPORT}"
            )
    return ExportDir(export_dir, manifest, msha)
