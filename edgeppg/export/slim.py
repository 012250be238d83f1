"""Post-conversion slimming of the int8 .tflite: the same model, parsed identically, in fewer flash bytes.

The converter's flatbuffer carries bytes no runtime needs (measured on an s12k student: 39,048 B against
the 32 KB flash budget, issue 6). `slim_tflite` removes only what is proven not to change
what any runtime reads:

- **tensor names**: nothing resolves tensors by name. `tflite.io_spec` maps heads through the serving
  signature (signature key -> tensor *index*); `verify` and the firmware use positions in the
  input/output lists; the firmware generator only quotes names in error messages. Intermediate tensors become
  "t<index>" (short, still unique, so tools and messages can still name them); the model's input and
  output tensors keep their converter names.
- **CONVERSION_METADATA**: converter provenance (options, environment), read by no runtime.
  `min_runtime_version` is kept: 16 B, and the one metadata entry with a documented meaning for
  integrators.
- **identical buffers**: the converter gives every activation tensor its own empty buffer; tensors with
  byte-identical read-only contents now share one, unreferenced buffers are dropped, indices renumbered.
- **shared vectors** (serialisation only): a flatbuffer field is an offset, so equal numeric vectors can
  be written once and referenced many times. The big win is the per-channel zero points: every
  per-channel weight and int32 bias tensor stores C int64 zeros (8 B each, ~1,000 channels in s12k);
  tensors with the same channel count now point at one vector. Shapes and scales are shared the same
  way. Every tensor still *reads* exactly the quantization it had (runtimes require as many zero points
  as scales), so kernels, XNNPACK delegation and the firmware generator see the same numbers.

Not done, and why: dropping the int32 biases' quantization (the TFLite/TFLM int8 conv kernels never read
it; on s12k it would save a further 2,320 B after the steps above) makes LiteRT's default XNNPACK delegate
refuse those convolutions — they fall back to the builtin kernels and LiteRT-default outputs change by up
to 2 LSB (measured on s12k), so it is not a no-op for every runtime we report.

Buffer data is written 16-byte aligned (the converter guarantees only 4), so int32 biases stay aligned
inside the 16-byte aligned C array. The output is a pure function of the input bytes (same model in,
same bytes out; slimming a slim model changes nothing). `tests/test_export_slim.py` proves slim vs
original: bit-identical int8 outputs in TFLM, LiteRT reference and LiteRT default kernels, same ops, same
I/O quantization, same TFLM arena; the export pipeline re-checks it on its held-out windows.
"""

from __future__ import annotations

import numpy as np

from edgeppg.errors import EdgePPGError
from edgeppg.int8.flatbuffer import pack_model, read_model, schema as _schema

BUFFER_ALIGN = 16
STRIP_METADATA = ("CONVERSION_METADATA",)


def _pack(model, share_vectors: bool) -> bytes:
    """Serialise `model` (not modified): buffer data 16-byte aligned, equal numeric vectors written once if asked."""
    import copy

    import flatbuffers

    schema = _schema()

    class Builder(flatbuffers.Builder):
        def __init__(self, size):
            super().__init__(size)
            self.memo = {}

        def CreateNumpyVector(self, x):  # every scale/zero-point/shape/index vector of a parsed model comes here
            if not share_vectors:
                return super().CreateNumpyVector(x)
            key = (x.dtype.str, x.tobytes())
            if key not in self.memo:
                self.memo[key] = super().CreateNumpyVector(x)
            return self.memo[key]

    class AlignedBufferT(schema.BufferT):
        def Pack(self, builder):  # generated code aligns buffer data to 1 byte only
            data = None
            if self.data is not None and len(self.data):
                raw = np.asarray(self.data, dtype=np.uint8).tobytes()
                builder.StartVector(1, len(raw), BUFFER_ALIGN)
                builder.head = builder.head - len(raw)
                builder.Bytes[builder.Head():builder.Head() + len(raw)] = raw
                builder.vectorNumElems = len(raw)
                data = builder.EndVector()
            schema.BufferStart(builder)
            if data is not None:
                schema.BufferAddData(builder, data)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    m = copy.copy(model)
    m.buffers = []
    for b in model.buffers:
        nb = AlignedBufferT()
        nb.data, nb.offset, nb.size = b.data, b.offset, b.size
        m.buffers.append(nb)
    return pack_model(m, Builder(1024))


def _io_tensors(model, sg_index: int, sg) -> set[int]:
    keep = {int(i) for i in sg.inputs} | {int(i) for i in sg.outputs}
    for sd in model.signatureDefs or []:
        if sd.subgraphIndex == sg_index:
            keep |= {int(t.tensorIndex) for t in list(sd.inputs or []) + list(sd.outputs or [])}
    return keep


def _shorten_names(model) -> None:
    for si, sg in enumerate(model.subgraphs):
        keep = _io_tensors(model, si, sg)
        for i, t in enumerate(sg.tensors):
            if i not in keep:
                t.name = f"t{i}".encode()


def _prune_buffers(model) -> None:
    """Drop buffers no tensor or metadata entry references (buffer 0, the schema's empty sentinel, stays)."""
    used = {0} | {t.buffer for sg in model.subgraphs for t in sg.tensors} | {m.buffer for m in model.metadata or []}
    order = sorted(used)
    new = {old: k for k, old in enumerate(order)}
    model.buffers = [model.buffers[i] for i in order]
    for sg in model.subgraphs:
        for t in sg.tensors:
            t.buffer = new[t.buffer]
    for m in model.metadata or []:
        m.buffer = new[m.buffer]


def _strip_metadata(model) -> None:
    if model.metadata:
        model.metadata = [m for m in model.metadata if (m.name or b"").decode() not in STRIP_METADATA] or None
        _prune_buffers(model)


def _dedupe_buffers(model) -> None:
    """Point each read-only tensor at the first byte-identical buffer, then drop the unreferenced ones."""
    first: dict[bytes, int] = {}
    canon = []
    for i, b in enumerate(model.buffers):
        if b.offset or b.size:  # external (large-model) buffers: never merged
            canon.append(i)
        else:
            canon.append(first.setdefault(b"" if b.data is None else np.asarray(b.data, np.uint8).tobytes(), i))
    for sg in model.subgraphs:
        for t in sg.tensors:
            if not t.isVariable:  # variable tensors are written at run time; never share their storage
                t.buffer = canon[t.buffer]
    _prune_buffers(model)


# Model edits, applied in this order; each one's saving is measured after the previous ones.
STEPS = (("tensor_names", _shorten_names), ("conversion_metadata", _strip_metadata),
         ("dedupe_buffers", _dedupe_buffers))
ALL_STEPS = tuple(s for s, _ in STEPS) + ("shared_vectors",)


def _canon(x):
    """A comparable value for any part of a parsed model (numpy vectors by dtype and bytes)."""
    if isinstance(x, np.ndarray):
        return ("ndarray", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, (list, tuple)):
        return tuple(_canon(v) for v in x)
    if hasattr(x, "__dict__"):
        return (type(x).__name__, tuple(sorted((k, _canon(v)) for k, v in vars(x).items())))
    return x


def _content(model) -> dict:
    """Everything a runtime can read from the model, with buffer indices replaced by the bytes they hold.

    Left out on purpose: names of intermediate tensors, the stripped metadata entries, buffer numbering.
    """
    def buf(i):
        b = model.buffers[i]
        return (b"" if b.data is None else np.asarray(b.data, np.uint8).tobytes(), b.offset, b.size)

    out = {k: _canon(v) for k, v in vars(model).items() if k not in ("subgraphs", "buffers", "metadata")}
    out["metadata"] = sorted((m.name, buf(m.buffer)) for m in model.metadata or []
                             if (m.name or b"").decode() not in STRIP_METADATA)
    subgraphs = []
    for si, sg in enumerate(model.subgraphs):
        io = _io_tensors(model, si, sg)
        tensors = []
        for i, t in enumerate(sg.tensors):
            d = {k: _canon(v) for k, v in vars(t).items() if k not in ("name", "buffer")}
            d["data"] = buf(t.buffer)
            if i in io:
                d["name"] = t.name
            tensors.append(d)
        subgraphs.append({"tensors": tensors, **{k: _canon(v) for k, v in vars(sg).items() if k != "tensors"}})
    out["subgraphs"] = subgraphs
    return out


def differences(original: bytes, slim: bytes) -> list[str]:
    """What a runtime could read differently from `slim` than from `original` (empty: nothing)."""
    a, b = _content(read_model(original)), _content(read_model(slim))
    diffs = [k for k in sorted(set(a) | set(b)) if k != "subgraphs" and a.get(k) != b.get(k)]
    if len(a["subgraphs"]) != len(b["subgraphs"]):
        return diffs + ["number of subgraphs"]
    for si, (ga, gb) in enumerate(zip(a["subgraphs"], b["subgraphs"])):
        diffs += [f"subgraph {si} {k}" for k in sorted(set(ga) | set(gb)) if k != "tensors" and ga.get(k) != gb.get(k)]
        if len(ga["tensors"]) != len(gb["tensors"]):
            diffs.append(f"subgraph {si} number of tensors")
            continue
        diffs += [f"subgraph {si} tensor {ti} {k}" for ti, (ta, tb) in enumerate(zip(ga["tensors"], gb["tensors"]))
                  for k in sorted(set(ta) | set(tb)) if ta.get(k) != tb.get(k)]
    return diffs


def slim_tflite(blob: bytes, steps: tuple[str, ...] | None = None) -> tuple[bytes, dict]:
    """Slimmed model bytes and a report {"bytes_before", "bytes_after", "saved": {item: bytes}}.

    "saved" also lists "layout": what re-serialising alone changes (16-byte aligned buffers cost a little).
    `steps` picks a subset of ALL_STEPS by name (tests, diagnosis); default all.
    """
    want = set(ALL_STEPS if steps is None else steps)
    if want - set(ALL_STEPS):
        raise ValueError(f"unknown slim steps {sorted(want - set(ALL_STEPS))}; known: {ALL_STEPS}")
    model = read_model(blob)
    size = len(_pack(model, share_vectors=False))
    saved = {"layout": len(blob) - size}
    for name, fn in STEPS:
        if name in want:
            fn(model)
            now = len(_pack(model, share_vectors=False))
            saved[name], size = size - now, now
    out = _pack(model, share_vectors="shared_vectors" in want)
    if "shared_vectors" in want:
        saved["shared_vectors"] = size - len(out)
    diffs = differences(blob, out)
    if diffs:  # a slimming step touched something a runtime reads: a bug here, never ship it
        raise EdgePPGError(f"slimming the .tflite changed what runtimes read ({'; '.join(diffs[:5])}); not shipping it")
    return out, {"bytes_before": len(blob), "bytes_after": len(out), "saved": saved}
