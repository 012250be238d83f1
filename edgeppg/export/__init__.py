"""int8 export: ONNX fp32/int8, full-integer TFLite via a spec-built Keras twin, C array, manifest, parity.

Heavy dependencies (TensorFlow, ONNX Runtime, TFLM) load inside the functions that need them.
"""

from edgeppg.export.pipeline import ExportResult, export_student

__all__ = ["ExportResult", "export_student"]
