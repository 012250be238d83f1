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


ARTIFACT_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # a plain file in the folder: no '/', no '..', not hidden


def _manifest_schema():
    from edgeppg.models.schema import HEADS, MAX_OUT, STUDENT
    from edgeppg.names import MODEL_NAME_RE
    from edgeppg.schema import HEX64, Bool, Enum, Float, Int, Json, List, Map, Maybe, Obj, Str

    qscale, qzp = Float(0.0, 1e9, positive=True), Int(-128, 255)
    shape = List(Int(0, 1 << 20), 0, 6)
    decode = Obj({"kind": Enum("affine", "bins"), "mul": Float(-1e6, 1e6, nonzero=True), "add": Float(-1e6, 1e6),
                  "centers_bpm": List(Float(-1e6, 1e6), 1, MAX_OUT)}, required=("kind",), extra=None)
    output = Obj({"name": Str(r"[A-Za-z0-9_-]{1,64}"), "kind": Enum("classes", "regression", "bins"),
                  "n_out": Int(1, MAX_OUT), "index": Int(0, 63), "shape": shape,
                  "dtype": Enum("int8", "uint8", "int16", "int32", "float32"), "scale": qscale, "zero_point": qzp,
                  "labels": List(Str(max_len=64), 0, MAX_OUT), "unit": Str(max_len=64), "decode": decode,
                  "centers_bpm": List(Float(-1e6, 1e6), 1, MAX_OUT)},
                 required=("name", "kind", "index"))
    artifact = Obj({"bytes": Int(0, 1 << 31), "sha256": Str(HEX64), "path": Str(ARTIFACT_NAME)},
                   required=("sha256",), extra=None)
    return Obj({
        "schema": Enum(MANIFEST_SCHEMA),
        "model": Obj({"name": Str(MODEL_NAME_RE, 64), "params": Int(0, 10**9), "macs": Int(0, 10**12),
                      "source_checkpoint_sha256": Str(HEX64), "student": STUDENT}, required=("name", "student")),
        "input": Obj({"name": Str(max_len=64), "fs_hz": Float(0.1, 1e5, positive=True),
                      "window_s": Float(0.0, 3600, positive=True), "channels": Int(1, 64), "shape": shape,
                      "layout": Str(max_len=16), "dtype": Enum("int8", "uint8", "int16", "float32"),
                      "scale": qscale, "zero_point": qzp, "onnx_shape": List(Json(1), 0, 6),
                      "preprocessing": Json(6), "normalisation": Json(4), "polarity": Str(max_len=32)},
                     required=("dtype",)),
        "outputs": List(output, 0, 16),
        "artifacts": Map(Str(ARTIFACT_NAME), artifact, 1, 64),
        "heldout": Obj({"file": Str(ARTIFACT_NAME), "windows": Int(0, 10**7), "ids_sha256": Str(HEX64),
                        "split": Str(max_len=32)}),
        "calibration": Obj({"windows": Int(0, 10**7), "seed": Int(0, 2**63), "ids_sha256": Str(HEX64),
                            "window_ids": List(Int(0, 2**63), 0, 1 << 20)}),
        "allow_degradation": Bool(), "degradations": List(Str(max_len=4096), 0, 64),
        "runtime": Obj({"tflm_arena_bytes": Maybe(Int(0, 1 << 31))}),
    }, required=("schema", "model", "input", "artifacts"))


def _head_fields(h: dict) -> dict:
    return {k: h[k] for k in ("name", "kind", "n_out", "labels", "unit", "decode", "centers_bpm") if k in h}


def _cross_check(manifest: dict, path: Path) -> None:
    """A manifest carrying the student spec must agree with it: decode constants, labels, sizes, input rate.

    Firmware decodes HR/RR with the manifest's `decode` numbers; an edited `add` or `mul` would make every
    device reading wrong while the model bytes stay untouched, so it is refused here."""
    student = manifest["model"].get("student")
    if student is None:
        return
    from edgeppg.models.student import StudentSpec

    try:
        spec = StudentSpec.from_json(student)
    except (EdgePPGError, TypeError, ValueError) as exc:
        raise EdgePPGError(f"{path}: model.student is not a valid student spec ({str(exc)[:160]}); {_REEXPORT}") from None
    outs = {o["name"]: o for o in manifest.get("outputs", [])}
    unknown = sorted(set(outs) - {h.name for h in spec.heads})
    if unknown:
        raise EdgePPGError(f"{path}: outputs {unknown} are not heads of the student spec "
                           f"({', '.join(h.name for h in spec.heads)}); {_REEXPORT}")
    for h in (h for h in spec.heads if h.name in outs):
        want = _head_fields(h.manifest())
        # keys the entry omits are derived from the model (n_out) — except decode, whose absence would silently
        # mean mul 1 / add 0 for a regression head
        keys = (set(want) & set(outs[h.name])) | ({"decode"} if h.kind != "classes" else set())
        got = {k: v for k, v in _head_fields(outs[h.name]).items() if k in keys}
        want = {k: v for k, v in want.items() if k in keys}
        if got != want:
            bad = sorted(k for k in set(want) | set(got) if got.get(k) != want.get(k))
            raise EdgePPGError(f"{path}: output {h.name!r} {', '.join(bad)} differ from the student spec the model was "
                               f"exported from (manifest edited after export?); {_REEXPORT}")
    m, i = manifest["model"], manifest["input"]
    checks = {"model.params": (m.get("params"), spec.params()), "model.macs": (m.get("macs"), spec.macs()),
              "input.fs_hz": (i.get("fs_hz"), spec.fs_hz), "input.channels": (i.get("channels"), spec.in_channels)}
    for key, (got, want) in checks.items():
        if got is not None and got != want:
            raise EdgePPGError(f"{path}: {key} is {got} but the student spec gives {want}; {_REEXPORT}")


def validate_manifest(manifest, path: Path) -> dict:
    """Types and ranges of every key a reader uses (verify, check, bench, firmware codegen), then consistency."""
    from edgeppg.schema import validate

    doc = validate(manifest, _manifest_schema(), f"export manifest {path}", _REEXPORT)
    _cross_check(doc, path)
    return doc


@dataclass(frozen=True)
class ExportDir:
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    artifact_sha256: dict[str, str]  # every listed artifact, as checked on disk

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return name in self.artifact_sha256

    @property
    def model_bytes(self) -> int:
        return int(self.file(TFLITE).stat().st_size)

    def binding(self) -> dict[str, Any]:
        """What a stage result measured: this manifest and these artifact bytes (verify.json/bench.json carry it)."""
        return {"manifest_sha256": self.manifest_sha256, "artifacts_sha256": dict(sorted(self.artifact_sha256.items()))}


def load_manifest(export_dir: str | Path) -> tuple[dict[str, Any], str]:
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise EdgePPGError(f"export folder {export_dir} not found; create it with `edgeppg export --student CKPT --out DIR`")
    path = export_dir / MANIFEST
    if not path.is_file():
        raise EdgePPGError(f"{export_dir} has no {MANIFEST}; it is not an export folder ({_REEXPORT})")
    manifest = read_json_doc(path, MANIFEST_SCHEMA, "export manifest", _REEXPORT)
    for key in ("model", "input", "artifacts"):  # outputs: verify needs them (checked there); bench does not
        if key not in manifest:
            raise EdgePPGError(f"{path} lacks the {key!r} section; {_REEXPORT}")
    return validate_manifest(manifest, path), sha256_file(path)


def verify_artifacts(export_dir: str | Path, need: tuple[str, ...] = REQUIRED, probe: bool = True) -> ExportDir:
    """THE artifact check verify, check and bench share: a schema-valid manifest, every listed artifact present
    with its sha256 and size, the files this command `need`s listed, and the model files parsed and run once
    in a child process (a malformed flatbuffer crashes that child, not this process)."""
    from edgeppg.verify.model_probe import probe_models

    export_dir = Path(export_dir)
    manifest, msha = load_manifest(export_dir)
    arts = manifest["artifacts"]
    for name in need:
        if name not in arts:
            raise EdgePPGError(f"{export_dir / MANIFEST} does not list {name}, which this command needs; {_REEXPORT}")
    got_sha: dict[str, str] = {}
    for name in sorted(arts):
        entry = arts[name]
        path = export_dir / name
        if path.is_symlink() or not path.is_file():
            raise EdgePPGError(f"artifact {name} listed in the manifest is missing from {export_dir} (or is not a "
                               f"regular file); {_REEXPORT}")
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
        got_sha[name] = got
    if probe:
        probe_models([export_dir / n for n in sorted(arts) if n in (TFLITE, ONNX_INT8)], _REEXPORT)
    return ExportDir(export_dir, manifest, msha, got_sha)
