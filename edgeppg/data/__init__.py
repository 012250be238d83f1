"""Data layer: the windows contract, pure signal functions, the paired generator, readers, catalog."""

from edgeppg.data.windows import RHYTHM_LABELS, Windows, load_windows, save_windows

__all__ = ["RHYTHM_LABELS", "Windows", "load_windows", "save_windows"]
