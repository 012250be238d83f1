"""`edgeppg verify` / `edgeppg check`: host-emulator figures for an export folder and CI budget gates.

verify_export(export_dir, out_dir=None) -> dict   sha256 check, TFLM arena/outputs, latency, targets, plots
check_export(export_dir, budget_path) -> CheckResult   budget.toml gate over verify.json (fresh or re-run)
"""

from __future__ import annotations

from edgeppg.verify.budget import Budget, CheckResult, check_export, load_budget
from edgeppg.verify.measure import VerifyConfig, verify_export

__all__ = ["Budget", "CheckResult", "VerifyConfig", "check_export", "load_budget", "verify_export"]
