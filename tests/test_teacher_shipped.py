"""The shipped ECG checkpoint: loadable by name and path, small, card sha256 matches, declares its input."""

import re

from edgeppg.io import sha256_file
from edgeppg.models.registry import MODELS_DIR, resolve_pretrained
from edgeppg.train.checkpoint import load_checkpoint
from edgeppg.train.transfer import feature_extractor


def test_shipped_checkpoint_by_name_and_path():
    path = resolve_pretrained("ecg-resnet18")
    assert path == MODELS_DIR / "ecg-resnet18.safetensors" and path.stat().st_size < 4_000_000
    ck = load_checkpoint(path, expect_arch="resnet1d")
    assert ck.meta["weights_dtype"] == "float16"
    assert ck.meta["input"]["fs_hz"] == 64.0 and ck.meta["input"]["channels"] == 1 and ck.meta["input"]["samples"] == 512
    assert ck.meta["metrics"]["rhythm_macro_f1"] > 0.9
    card = (MODELS_DIR / "ecg-resnet18.md").read_text()
    assert re.search(r"`([0-9a-f]{64})`", card).group(1) == sha256_file(path) == ck.sha256
    assert feature_extractor(str(path)).source["sha256"] == feature_extractor("ecg-resnet18").source["sha256"]
