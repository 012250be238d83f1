#include "eppg_runtime.h"

void eppg_invoke_layer(const eppg_model_t *m, uint32_t i)
{
    const eppg_layer_t *l = &m->layers[i];
    int8_t *a = m->arena;
    switch (l->kind) {
    case EPPG_L_CONV: eppg_conv((const eppg_conv_t *)l->params, a + l->in0, a + l->out); break;
    case EPPG_L_DW: eppg_dw((const eppg_dw_t *)l->params, a + l->in0, a + l->out); break;
    case EPPG_L_FC: eppg_fc((const eppg_fc_t *)l->params, a + l->in0, a + l->out); break;
    case EPPG_L_ADD: eppg_add((const eppg_add_t *)l->params, a + l->in0, a + l->in1, a + l->out); break;
    case EPPG_L_PAD: eppg_pad((const eppg_pad_t *)l->params, a + l->in0, a + l->out); break;
    case EPPG_L_MEAN: eppg_mean((const eppg_mean_t *)l->params, a + l->in0, a + l->out); break;
    case EPPG_L_REQUANT: eppg_requant((const eppg_requant_t *)l->params, a + l->in0, a + l->out); break;
    default: break; /* the generator emits only the kinds above */
    }
}

void eppg_invoke(const eppg_model_t *m)
{
    for (uint32_t i = 0; i < m->num_layers; i++) eppg_invoke_layer(m, i);
}

int8_t *eppg_input(const eppg_model_t *m)
{
    return m->arena + m->input_offset;
}

const int8_t *eppg_output(const eppg_model_t *m, uint32_t i)
{
    return m->arena + m->output_offsets[i];
}

const char *eppg_kernels_name(void)
{
#if EPPG_OPT && defined(__ARM_FEATURE_DSP)
    return "dsp";
#elif EPPG_OPT
    return "opt-emulated";
#else
    return "portable";
#endif
}
