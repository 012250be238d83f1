import numpy as np

from edgeppg.int8.fixedpoint import dequantize, quantize


def test_quantize_rounds_half_away_from_zero_and_clamps_like_tflite():
    x = np.array([0.5, -0.5, 1.5, -1.5, 2.4999, 1000.0, -1000.0], np.float32)
    np.testing.assert_array_equal(quantize(x, 1.0, 0), [1, -1, 2, -2, 2, 127, -128])
    np.testing.assert_array_equal(quantize(np.float32([0.25]), 0.5, -3), [-2])  # 0.5 -> 1, + zero point
    np.testing.assert_allclose(dequantize(np.int8([-2]), 0.5, -3), [0.5])
