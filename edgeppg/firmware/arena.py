"""Static arena plan for the generated model: buffer lifetimes over the layer sequence, greedy first-fit by size.

Aliased tensors (RESHAPE/EXPAND_DIMS/SQUEEZE) arrive already folded into their source buffer; buffers whose
lifetimes do not overlap share bytes. This is the generated firmware's own arena, unrelated to TFLM's.
"""

from __future__ import annotations

from typing import Callable

from edgeppg.errors import EdgePPGError

ARENA_ALIGN = 8  # word loads and LDRD stay aligned
READ_SLACK = 4  # conv_opt reads each receptive field rounded up to 4 bytes (the extra taps weigh zero)


def align(n: int) -> int:
    return (n + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN


def plan(layers, nbytes: Callable[[int], int], in_buf: int, out_bufs: list[int]) -> tuple[dict[int, int], int]:
    """({buffer id: byte offset}, arena bytes) for layers with .name, .inputs (buffer ids) and .output."""
    n_layers = len(layers)
    life: dict[int, list[int]] = {in_buf: [-1, -1]}
    for i, L in enumerate(layers):
        for b in L.inputs:
            if b not in life:
                raise EdgePPGError(f"{L.name}: reads a tensor no earlier layer wrote")
            life[b][1] = max(life[b][1], i)
        life.setdefault(L.output, [i, i])
    for b in out_bufs:
        life[b][1] = n_layers  # outputs stay readable after invoke
    size = {b: align(nbytes(b)) for b in life}
    offsets: dict[int, int] = {}
    for b in sorted(life, key=lambda b: (-size[b], life[b][0])):
        lo, hi = life[b]
        busy = sorted((offsets[o], offsets[o] + size[o]) for o in offsets
                      if not (life[o][1] < lo or life[o][0] > hi))
        off = 0
        for s, e in busy:
            if off + size[b] <= s:
                break
            off = max(off, e)
        offsets[b] = off
    return offsets, max((offsets[b] + size[b] for b in offsets), default=0) + READ_SLACK
