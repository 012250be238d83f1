/* Host driver for tests/test_preprocess_c.py: runs eppg_preprocess on windows read from a binary file.
 * in:  u32 n_sections, u32 pad, u32 n, u32 n_windows, f64 eps, f32 scale, i32 zero_point,
 *      f64 sos[n_sections][6], f64 zi[n_sections][2], f32 x[n_windows][n]
 * out: i8 q[n_windows][n] */
#include <stdio.h>
#include <stdlib.h>

#include "eppg_preprocess.h"

static void need(int ok) { if (!ok) { fprintf(stderr, "bad input\n"); exit(2); } }

int main(int argc, char **argv) {
    need(argc == 3);
    FILE *f = fopen(argv[1], "rb"), *g = fopen(argv[2], "wb");
    need(f && g);
    uint32_t hdr[4];
    double eps;
    float scale;
    int32_t zp;
    need(fread(hdr, 4, 4, f) == 4 && fread(&eps, 8, 1, f) == 1 && fread(&scale, 4, 1, f) == 1 && fread(&zp, 4, 1, f) == 1);
    const uint32_t ns = hdr[0], pad = hdr[1], n = hdr[2], nw = hdr[3];
    need(ns <= 8 && n > 0 && n <= 1u << 16 && pad < n);
    double sos[8][6], zi[8][2];
    for (uint32_t s = 0; s < ns; s++) need(fread(sos[s], 8, 6, f) == 6);
    for (uint32_t s = 0; s < ns; s++) need(fread(zi[s], 8, 2, f) == 2);
    eppg_pre_t p = {ns, (const double (*)[6])sos, (const double (*)[2])zi, pad, eps, scale, zp};
    float *x = malloc(4u * n);
    double *buf = malloc(8u * (n + pad));
    int8_t *q = malloc(n);
    need(x && buf && q);
    for (uint32_t w = 0; w < nw; w++) {
        need(fread(x, 4, n, f) == n);
        need(eppg_preprocess(&p, x, n, buf, q) == 0);
        need(fwrite(q, 1, n, g) == n);
    }
    free(x);
    free(buf);
    free(q);
    fclose(f);
    fclose(g);
    return 0;
}
