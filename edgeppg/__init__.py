"""edgeppg: ECG-pretrained teachers distilled into tiny int8 PPG models for microcontrollers."""

__version__ = "0.1.0"
