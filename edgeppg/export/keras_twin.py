"""The Keras twin of a student, built from the same `StudentSpec`, and PyTorch -> Keras weight transfer.

Layout "2d" (default) runs every conv as a 1xk Conv2D on [1, 1, T, C] after ONE input RESHAPE, so the
TFLite graph is plain PAD/CONV_2D/DEPTHWISE_CONV_2D/ADD/MEAN/FULLY_CONNECTED; layout "1d" uses
Conv1D, which the converter lowers to RESHAPE + CONV_2D + RESHAPE around every conv. Padding is explicit
ZeroPadding + "valid": Keras "same" with stride 2 pads differently from PyTorch.
TensorFlow is imported inside the functions: it costs seconds and most of edgeppg never needs it.
"""

from __future__ import annotations

import numpy as np

from edgeppg.errors import EdgePPGError
from edgeppg.models.student import StudentSpec

LAYOUTS = ("2d", "1d")


def keras_twin(spec: StudentSpec, layout: str = "2d"):
    """tf.keras.Model: input "ppg" NWC (1, T, C) float32, outputs one Dense per head in head order."""
    import tensorflow as tf

    if layout not in LAYOUTS:
        raise EdgePPGError(f"unknown keras layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    L = tf.keras.layers
    two_d = layout == "2d"
    x_in = tf.keras.Input((spec.samples, spec.in_channels), batch_size=1, name="ppg")
    x = L.Reshape((1, spec.samples, spec.in_channels), name="to_2d")(x_in) if two_d else x_in

    def act(kind, name):
        return L.ReLU(max_value=6.0 if kind == "relu6" else None, name=name)

    def pad(p, name):
        return L.ZeroPadding2D(((0, 0), (p, p)), name=name) if two_d else L.ZeroPadding1D(p, name=name)

    def conv(filters, k, s, name):
        if two_d:
            return L.Conv2D(filters, (1, k), (1, s), "valid", name=name)
        return L.Conv1D(filters, k, s, "valid", name=name)

    def dwconv(k, s, name):
        if two_d:
            # TF's CPU depthwise kernel needs equal strides; with height 1 a height stride of s is a no-op
            return L.DepthwiseConv2D((1, k), (s, s), "valid", name=name)
        return L.DepthwiseConv1D(k, s, "valid", name=name)

    for i, b in enumerate(spec.blocks):
        skip = x
        y = pad(b.pad, f"b{i}_pad")(x) if b.pad else x
        if b.kind == "dws":
            y = dwconv(b.kernel, b.stride, f"b{i}_dw")(y)
            y = act(b.act, f"b{i}_dw_act")(y)
            y = conv(b.out_ch, 1, 1, f"b{i}_conv")(y)
        else:
            y = conv(b.out_ch, b.kernel, b.stride, f"b{i}_conv")(y)
        if b.residual:
            y = L.Add(name=f"b{i}_add")([y, skip])
        x = act(b.act, f"b{i}_act")(y)
    f = (L.GlobalAveragePooling2D(name="mean") if two_d else L.GlobalAveragePooling1D(name="mean"))(x)
    outs = [L.Dense(h.n_out, name=h.name)(f) for h in spec.heads]
    return tf.keras.Model(x_in, outs, name=spec.name)


def load_torch_weights(keras_model, torch_model, layout: str = "2d") -> None:
    """Copy a `Student` (BN folded here) or `FoldedStudent` into its twin; transposes to Keras layouts.

    Conv1d [out, in, k] -> Conv1D [k, in, out] (Conv2D [1, k, in, out]);
    depthwise [C, 1, k] -> DepthwiseConv1D [k, C, 1] (DepthwiseConv2D [1, k, C, 1]); Linear [out, in] -> [in, out].
    """
    from edgeppg.export.fold import FoldedStudent, folded_params

    p = dict(torch_model.p) if isinstance(torch_model, FoldedStudent) else folded_params(torch_model)
    p = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in p.items()}
    spec = torch_model.spec
    lead = (1,) if layout == "2d" else ()

    def set_w(name, w, b):
        layer = keras_model.get_layer(name)
        want = [tuple(v.shape) for v in layer.get_weights()]
        got = [tuple(w.shape), tuple(b.shape)]
        if want != got:
            raise EdgePPGError(f"keras twin layer {name}: weight shapes {want} != torch {got}; spec and model disagree")
        layer.set_weights([w, b])

    for i, b in enumerate(spec.blocks):
        if b.kind == "dws":
            dw = p[f"b{i}_dw_w"].transpose(2, 0, 1)  # [C,1,k] -> [k,C,1]
            set_w(f"b{i}_dw", dw.reshape(lead + dw.shape), p[f"b{i}_dw_b"])
        w = p[f"b{i}_w"].transpose(2, 1, 0)  # [out,in,k] -> [k,in,out]
        set_w(f"b{i}_conv", w.reshape(lead + w.shape), p[f"b{i}_b"])
    for h in spec.heads:
        set_w(h.name, p[f"head_{h.name}_w"].T.copy(), p[f"head_{h.name}_b"])


def keras_predict(keras_model, x_nct: np.ndarray, spec: StudentSpec) -> dict[str, np.ndarray]:
    """Run the twin one window at a time (batch 1 is baked in) on (N, C, T) windows -> {head: (N, n_out)}."""
    outs = {h.name: [] for h in spec.heads}
    fn = keras_model.__call__
    for i in range(len(x_nct)):
        ys = fn(np.ascontiguousarray(x_nct[i:i + 1].transpose(0, 2, 1)), training=False)
        for h, y in zip(spec.heads, ys):
            outs[h.name].append(np.asarray(y))
    return {k: np.concatenate(v) for k, v in outs.items()}
