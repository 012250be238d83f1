// TFLM path for teams already on TensorFlow Lite Micro: run the exported model_data.c with the TFLM
// interpreter inside the same harness protocol. Not built here (no TFLM C++ sources offline); see README.
#include <cstdint>
#include <cstring>

#include "eppg_tflm_model.h"  // model_data.h from `edgeppg export` under fixed names: EPPG_MODEL_DATA[]
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {
// TFLM's own allocation total for this model (manifest runtime.tflm_arena_bytes), rounded up to 16 bytes.
constexpr size_t kArenaBytes = (EPPG_TFLM_ARENA_BYTES + 15) / 16 * 16;
alignas(16) uint8_t g_arena[kArenaBytes];

// Exactly the ops the Keras-twin export produces; Conv1D arrives as EXPAND_DIMS + CONV_2D + RESHAPE.
using Resolver = tflite::MicroMutableOpResolver<10>;
void AddOps(Resolver& r) {
  r.AddPad();
  r.AddReshape();
  r.AddExpandDims();
  r.AddConv2D();
  r.AddDepthwiseConv2D();
  r.AddAdd();
  r.AddMean();
  r.AddFullyConnected();
  r.AddQuantize();
  r.AddRelu();
}
}  // namespace

// The board provides these (same port API as the C harness).
extern "C" int port_getchar(void);
extern "C" void port_putchar(int c);

static void puts_(const char* s) { while (*s) port_putchar(*s++); }

extern "C" int main(void) {
  const tflite::Model* model = tflite::GetModel(EPPG_MODEL_DATA);
  static Resolver resolver;
  AddOps(resolver);
  static tflite::MicroInterpreter interpreter(model, resolver, g_arena, kArenaBytes);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    puts_("e-[AllocateTensors failed: raise kArenaBytes]\r\n");
    return 1;
  }
  TfLiteTensor* input = interpreter.input(0);
  puts_("m-init-done\r\nm-ready\r\n");
  // Minimal loop: 2 hex digits per input byte, then '%' runs one inference and prints outputs in hex.
  size_t n = 0;
  int hi = -1;
  for (;;) {
    int c = port_getchar();
    if (c < 0) break;
    if (c == '%') {
      interpreter.Invoke();
      puts_("m-results");
      for (size_t o = 0; o < interpreter.outputs_size(); ++o) {
        const TfLiteTensor* t = interpreter.output(o);
        puts_("-[");
        for (size_t i = 0; i < t->bytes; ++i) {
          const char* hex = "0123456789abcdef";
          port_putchar(hex[(t->data.uint8[i] >> 4) & 15]);
          port_putchar(hex[t->data.uint8[i] & 15]);
        }
        puts_("]");
      }
      puts_("\r\nm-ready\r\n");
      n = 0;
      continue;
    }
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      if (n < input->bytes) input->data.uint8[n++] = static_cast<uint8_t>(hi << 4 | v);
      hi = -1;
    }
  }
  return 0;
}
