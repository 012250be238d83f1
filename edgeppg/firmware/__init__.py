"""C model code for firmware_harness from an int8 .tflite: per-op lowerings (`lower`), a static arena plan
(`arena`) and the C text (`emit`), put together by `codegen`. Building and running the harness is `edgeppg.bench`.
"""
