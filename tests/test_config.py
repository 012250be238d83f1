import pytest

from edgeppg.config import DistillConfig, FitConfig, PipelineConfig, from_dict, load_config
from edgeppg.errors import EdgePPGError


def test_presets_load_and_layer_over_field_defaults():
    smoke = load_config("smoke")
    assert smoke.preset == "smoke"
    assert smoke.data.n_windows == 600
    # distill.fit keeps its own lr default when the preset only changes epochs
    assert smoke.distill.fit.epochs == 3
    assert smoke.distill.fit.lr == DistillConfig().fit.lr
    # the default preset resizes (data, epochs, teacher-only windows), trains the student's whole one-cycle schedule
    # and lets export fall back to QAT; everything else stays the field defaults
    d = load_config("default")
    assert d.data.n_windows == 12000 and d.finetune.fit.epochs == 15 and d.distill.unlabelled == 24000
    base = PipelineConfig().distill
    fit = base.fit.__class__(**{**base.fit.__dict__, "epochs": 30, "patience": 0})
    assert d.finetune.fit.lr == PipelineConfig().finetune.fit.lr
    assert d.distill == base.__class__(**{**base.__dict__, "unlabelled": 24000, "hr_mode": "bins", "fit": fit})
    assert d.export == PipelineConfig().export.__class__(**{**PipelineConfig().export.__dict__, "qat": True})


def test_unknown_key_names_key_and_valid_ones():
    with pytest.raises(EdgePPGError, match=r"unknown config key 'fit.epoch'.*epochs"):
        from_dict(FitConfig, {"epoch": 3}, "fit")


def test_wrong_type_and_impossible_value():
    with pytest.raises(EdgePPGError, match="must be int"):
        from_dict(FitConfig, {"epochs": "ten"})
    with pytest.raises(EdgePPGError, match="epochs must be >= 1"):
        from_dict(FitConfig, {"epochs": 0})


def test_unknown_preset():
    with pytest.raises(EdgePPGError, match="valid presets: default, full, smoke"):
        load_config("huge")
