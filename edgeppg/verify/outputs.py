"""The manifest's input/output spec, checked against the model, and int8 outputs decoded the manifest's way.

Firmware decodes outputs using only the manifest, so verify does exactly the same: if the manifest's
scale/zero point/index disagree with the .tflite, the manifest is wrong and verify says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeppg.errors import EdgePPGError
from edgeppg.models.heads import HeadSpec
from edgeppg.int8.fixedpoint import dequantize

_STALE = "the manifest does not describe this model; re-run `edgeppg export`"


@dataclass(frozen=True)
class OutputSpec:
    head: HeadSpec
    index: int  # position in the TFLite output list
    scale: float
    zero_point: int


def _close(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= 1e-6 * max(abs(float(a)), abs(float(b)), 1e-12)


def _qparams(details: dict) -> tuple[float, int]:
    qp = details["quantization_parameters"]
    return float(qp["scales"][0]), int(qp["zero_points"][0])


def input_qparams(manifest: dict, details: dict) -> tuple[float, int, list[int]]:
    """The manifest's input scale/zero point/shape, refused if the model disagrees or is not int8."""
    spec = manifest["input"]
    if np.dtype(details["dtype"]) != np.int8 or spec.get("dtype") != "int8":
        raise EdgePPGError(f"model input is {np.dtype(details['dtype']).name} (manifest: {spec.get('dtype')}); "
                           "verify needs an int8-input model — export with int8 I/O")
    scale, zp = _qparams(details)
    shape = [int(s) for s in details["shape"]]
    if "scale" in spec and not _close(spec["scale"], scale) or int(spec.get("zero_point", zp)) != zp:
        raise EdgePPGError(f"manifest input scale/zero_point {spec.get('scale')}/{spec.get('zero_point')} differ from "
                           f"the model's {scale}/{zp}; {_STALE}")
    if "shape" in spec and [int(s) for s in spec["shape"]] != shape:
        raise EdgePPGError(f"manifest input shape {spec['shape']} differs from the model's {shape}; {_STALE}")
    return scale, zp, shape


def output_specs(manifest: dict, details: list[dict]) -> list[OutputSpec]:
    specs = []
    for o in manifest["outputs"]:
        name, idx = o.get("name"), o.get("index")
        if not isinstance(idx, int) or not 0 <= idx < len(details):
            raise EdgePPGError(f"manifest output {name!r} has index {idx!r}; the model has {len(details)} outputs")
        scale, zp = _qparams(details[idx])
        if not _close(o.get("scale", scale), scale) or int(o.get("zero_point", zp)) != zp:
            raise EdgePPGError(f"manifest output {name!r} (index {idx}) scale/zero_point {o.get('scale')}/"
                               f"{o.get('zero_point')} differ from the model's {scale}/{zp}; {_STALE}")
        n_out = int(np.prod(details[idx]["shape"][1:]))
        specs.append(OutputSpec(_head(o, n_out), idx, scale, zp))
    return specs


def _head(o: dict, n_out: int) -> HeadSpec:
    kind, name = o.get("kind"), o["name"]
    if kind == "classes":
        labels = tuple(o.get("labels", ()))
        if labels and len(labels) != n_out:
            raise EdgePPGError(f"manifest output {name!r} has {len(labels)} labels but the model gives {n_out} values")
        return HeadSpec(name, "classes", n_out, labels=labels)
    dec = o.get("decode", {})
    if kind == "regression" and dec.get("kind", "affine") == "affine":
        return HeadSpec(name, "regression", n_out, unit=o.get("unit", ""), mul=float(dec.get("mul", 1.0)),
                        add=float(dec.get("add", 0.0)))
    if kind == "bins" or dec.get("kind") == "bins":
        centers = o.get("centers_bpm") or dec.get("centers_bpm")
        if not centers or len(centers) != n_out:
            raise EdgePPGError(f"manifest output {name!r} is binned but lists {len(centers or [])} centers for {n_out} bins")
        return HeadSpec(name, "bins", n_out, unit=o.get("unit", "bpm"), centers=tuple(float(c) for c in centers))
    raise EdgePPGError(f"manifest output {name!r} has kind {kind!r} / decode {dec!r}; expected classes, "
                       "regression with an affine decode, or bins")


def decode(specs: list[OutputSpec], outs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """int8 outputs by TFLite index -> {head: class index or physical value}, using only the manifest."""
    return {s.head.name: s.head.decode(dequantize(outs[s.index], s.scale, s.zero_point).reshape(len(outs[s.index]), -1))
            for s in specs}
