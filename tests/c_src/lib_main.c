/* Host driver for the exported C library (tests/test_firmware_library.py).
 *   lib_main infer IN OUT        IN: windows of EPPG_INPUT_BYTES int8; OUT: every output tensor per window
 *   lib_main push IN CHUNK OUT   IN: float32 samples, pushed CHUNK at a time; OUT: one record per window:
 *                                u32 index, f32 hr, f32 rr, f32 sqi, u8 valid, u8 rhythm, u8 reason, u8 0,
 *                                i8 logits[NC], f32 probs[NC], i8 model input[N]                           */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeppg.h"
#include "model_gen.h"

static void *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) exit(2);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)*n + 1);
    if (fread(b, 1, (size_t)*n, f) != (size_t)*n) exit(2);
    fclose(f);
    return b;
}

int main(int argc, char **argv)
{
    long n;
    eppg_init();
    if (argc == 4 && strcmp(argv[1], "infer") == 0) {
        int8_t *x = slurp(argv[2], &n);
        FILE *o = fopen(argv[3], "wb");
        for (long w = 0; w + (long)EPPG_INPUT_BYTES <= n; w += EPPG_INPUT_BYTES) {
            eppg_result_t r;
            eppg_infer(x + w, &r);
            for (uint32_t i = 0; i < EPPG_NUM_OUTPUTS; i++)
                fwrite(eppg_output_int8(i), 1, eppg_model.output_bytes[i], o);
        }
        fclose(o);
        free(x);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "push") == 0) {
        float *s = slurp(argv[2], &n);
        size_t total = (size_t)n / sizeof(float), chunk = (size_t)atol(argv[3]);
        FILE *o = fopen(argv[4], "wb");
        for (size_t i = 0; i < total; i += chunk) {
            eppg_result_t r;
            size_t k = total - i < chunk ? total - i : chunk;
            int done = eppg_push(s + i, k, &r);
            if (done > 1) return 3; /* the test pushes at most a hop at a time */
            if (!done) continue;
            uint8_t flags[4] = {r.hr_valid, r.rhythm, r.reason, 0};
            fwrite(&r.window_index, 4, 1, o);
            fwrite(&r.hr_bpm, 4, 1, o);
            fwrite(&r.rr_bpm, 4, 1, o);
            fwrite(&r.sqi, 4, 1, o);
            fwrite(flags, 1, 4, o);
            fwrite(r.logits, 1, EPPG_NUM_CLASSES, o);
            fwrite(r.probs, 4, EPPG_NUM_CLASSES, o);
            fwrite(eppg_last_input(), 1, EPPG_WINDOW_SAMPLES, o);
        }
        fclose(o);
        free(s);
        return 0;
    }
    return 1;
}
