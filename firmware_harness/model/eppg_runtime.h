/* The generated model as a table of layers over one static arena (no malloc). */
#ifndef EPPG_RUNTIME_H
#define EPPG_RUNTIME_H

#include <stdint.h>

#include "eppg_kernels.h"

enum { EPPG_L_CONV, EPPG_L_DW, EPPG_L_FC, EPPG_L_ADD, EPPG_L_PAD, EPPG_L_MEAN, EPPG_L_REQUANT };

typedef struct {
    uint8_t kind;
    const void *params;     /* eppg_conv_t, eppg_dw_t, ... by kind */
    uint32_t in0, in1, out; /* byte offsets into the arena (in1: ADD only) */
    uint32_t macs;
    const char *name;
} eppg_layer_t;

typedef struct {
    const char *name;
    uint32_t macs, arena_bytes, input_bytes, num_layers, num_outputs;
    const eppg_layer_t *layers;
    int8_t *arena;
    uint32_t input_offset;
    const uint32_t *output_offsets, *output_bytes;
} eppg_model_t;

extern const eppg_model_t eppg_model; /* defined by the generated model_gen.c */

void eppg_invoke_layer(const eppg_model_t *m, uint32_t i);
void eppg_invoke(const eppg_model_t *m);
int8_t *eppg_input(const eppg_model_t *m);
const int8_t *eppg_output(const eppg_model_t *m, uint32_t i);
const char *eppg_kernels_name(void);

#endif
