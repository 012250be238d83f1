// The symbols `edgeppg export` writes in model_data.h are named after the model (`<ident>_tflite[]`,
// `<ident>_tflite_len`, ident = edgeppg.export.c_array.c_identifier(model.name)); this maps them to fixed names.
// firmware/tflm/ of an export has EPPG_MODEL and EPPG_TFLM_ARENA_BYTES filled in; by hand: -DEPPG_MODEL=s5k.
#ifndef EPPG_TFLM_MODEL_H
#define EPPG_TFLM_MODEL_H

#include "model_data.h"

#ifndef EPPG_MODEL
#error "define EPPG_MODEL as the model's C identifier (model_data.h: extern const unsigned char <EPPG_MODEL>_tflite[])"
#endif
#define EPPG_CAT2(a, b) a##b
#define EPPG_CAT(a, b) EPPG_CAT2(a, b)
#define EPPG_MODEL_DATA EPPG_CAT(EPPG_MODEL, _tflite)
#define EPPG_MODEL_DATA_LEN EPPG_CAT(EPPG_MODEL, _tflite_len)
#ifndef EPPG_TFLM_ARENA_BYTES
#define EPPG_TFLM_ARENA_BYTES (32 * 1024) /* manifest runtime.tflm_arena_bytes is what TFLM reports it needs */
#endif

#endif
