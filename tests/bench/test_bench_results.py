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


def _strings(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj


def test_results_hold_no_machine_specific_absolute_paths():
    # a tuned encoder or checkpoint recorded as /home/<user>/... means nothing in another clone
    import json
    import re

    abs_path = re.compile(r"^/[^/\s]+/\S*$")
    for path in (ROOT / "bench" / "results").glob("*.json"):
        found = sorted({s for s in _strings(json.loads(path.read_text())) if abs_path.match(s)})
        assert not found, f"{path.name} records absolute paths (use bench/_paths.py repo_relative): {found[:3]}"


def test_repo_relative_converts_only_paths_below_the_root(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    from _paths import repo_relative

    root = tmp_path / "repo"
    doc = {"rows": [{"tune": {"path": str(root / ".cache" / "enc")}, "n": 3}],
           "other": (str(tmp_path / "repo-old" / "x"), "/elsewhere/data", "text with /slashes")}
    out = repo_relative(doc, root)
    assert out["rows"][0]["tune"]["path"] == str(Path(".cache") / "enc")
    assert out["rows"][0]["n"] == 3
    assert out["other"] == [str(tmp_path / "repo-old" / "x"), "/elsewhere/data", "text with /slashes"]
    assert doc["rows"][0]["tune"]["path"] == str(root / ".cache" / "enc")  # the input is not modified
