"""Ruff, with the bandit security rules, is clean on the whole tree: a finding fails the suite."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_with_bandit_rules_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "app", "sandbox", "bench", "tests"],  # noqa: S603
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
