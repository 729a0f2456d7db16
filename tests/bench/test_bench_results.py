"""Committed benchmark results keep the shape of the developers' guide."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT.parent / "shared" / "tools" / "check-results"


def test_results_pass_the_shared_checker():
    if not CHECKER.exists():
        pytest.skip(f"{CHECKER} not found")
    out = subprocess.run([sys.executable, str(CHECKER), str(ROOT / "bench" / "results")], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_json_has_a_markdown_rendering():
    for path in (ROOT / "bench" / "results").glob("*.json"):
        assert path.with_suffix(".md").exists(), f"{path} has no markdown rendering"
