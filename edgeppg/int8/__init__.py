"""The int8 core every bit-exactness claim rests on: one arithmetic, one .tflite reader, one runner per runtime.

- `fixedpoint`: TFLite's integer arithmetic (QUANTIZE, QuantizeMultiplier, gemmlowp SRDHM/RDBP rounding);
- `flatbuffer`: the one .tflite reader (-> a small graph IR: ops, tensors, quantization, MACs) and writer;
- `tflm`: the TFLite Micro interpreter (the firmware's golden reference) and its arena figures;
- `litert`: the LiteRT interpreter (reference or optimized kernels).
Export, verify and the firmware bench import these; none keeps its own copy.
"""
