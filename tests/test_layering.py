"""The import graph of ``src/lmrec`` has no cycle and points down the pipeline.

Every ``import`` / ``from … import`` of an lmrec module is read with :mod:`ast` (imports inside
functions and under ``if TYPE_CHECKING:`` included: a lazy import is still a dependency), each
module is put in a layer, and two rules are checked:

1. no import cycle between modules (strongly connected components of the graph);
2. a module imports only from its own layer or a lower one, in this order (lowest first)::

       foundation (lmrec, lmrec.io, lmrec.seed)
       data        canonical datasets, loaders, text building, splits — loads no language model
       encoders    text → vectors (and the embedding cache)
       features    transforms of vectors
       evaluation  metrics and protocols: scores what it is given (no encoder, trainer, pipeline)
       training    loops, losses, checkpoints; validates with evaluation; imports no concrete model
       models      one recommender per file; uses training helpers in fit, evaluation for validation
       jobs        pipeline.py, transfer.py, transfer_report.py, news_pipeline.py, rating_pipeline.py,
                   ensemble_pipeline.py, quickstart.py
       index, serving, scale
       cli

   (The pipeline itself runs data → encoders → features → models → training → evaluation; the
   import order differs only in that a model calls its training loop and the loop calls the
   evaluator, never the other way round.)

A new top-level module or package must be given a layer here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: list[tuple[str, ...]] = [
    ("foundation",),
    ("data",),
    ("encoders",),
    ("features",),
    ("evaluation",),
    ("training",),
    ("models",),
    ("jobs",),
    ("index", "serving", "scale"),
    ("cli",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
FOUNDATION = {"lmrec", "lmrec.io", "lmrec.seed"}
JOBS = {"lmrec.pipeline", "lmrec.transfer", "lmrec.transfer_report", "lmrec.news_pipeline", "lmrec.rating_pipeline",
        "lmrec.ensemble_pipeline", "lmrec.quickstart"}


def module_files(src: Path, package: str = "lmrec") -> dict[str, Path]:
    """``{"lmrec.data.text": path, …}`` for every ``.py`` file of ``package`` under ``src``."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph(src: Path, package: str = "lmrec") -> dict[str, set[str]]:
    """``{module: {imported lmrec module, …}}``; ``from pkg import name`` points at the submodule
    ``pkg.name`` when it exists, else at ``pkg`` (its ``__init__``)."""
    files = module_files(src, package)

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        here = mod.split(".") if is_pkg else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in files]
                targets = subs + ([base] if len(subs) < len(node.names) else [])
            for t in targets:
                if t == package or t.startswith(package + "."):
                    r = resolve(t)
                    if r is not None and r != mod:
                        graph[mod].add(r)
        graph.setdefault(mod, set())
    return dict(graph)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer_of(module: str) -> str:
    """Layer name of an lmrec module (see the module docstring).

    Raises
    ------
    KeyError
        For a top-level module or package that has no layer yet.
    """
    if module in FOUNDATION:
        return "foundation"
    if module in JOBS:
        return "jobs"
    top = module.split(".")[1]
    if top in RANK:
        return top
    raise KeyError(f"{module} has no layer; add it to LAYERS/JOBS/FOUNDATION in tests/test_layering.py")


def upward_edges(graph: dict[str, set[str]]) -> list[str]:
    """``"a (layer) -> b (layer)"`` for every import of a higher layer."""
    bad = []
    for a in sorted(graph):
        for b in sorted(graph[a]):
            la, lb = layer_of(a), layer_of(b)
            if RANK[lb] > RANK[la]:
                bad.append(f"{a} ({la}) -> {b} ({lb})")
    return bad


# ------------------------------------------------------------------------------ the rules

@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(SRC)


def test_the_graph_is_read(graph):
    # a broken reader would make the two rules below pass vacuously
    assert len(graph) > 50
    assert "lmrec.data.splits" in graph["lmrec.models.base"]
    assert "lmrec.cli._common" in graph["lmrec.cli.main"]
    assert "lmrec.models.sasrec" in graph["lmrec.models.fusion"]


def test_every_module_has_a_layer(graph):
    for module in graph:
        layer_of(module)


def test_no_import_cycle(graph):
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_imports_point_down_the_pipeline(graph):
    bad = upward_edges(graph)
    assert not bad, "imports of a higher layer:\n  " + "\n  ".join(bad)


def test_data_and_evaluation_load_no_language_model(graph):
    # the concrete rules, stated directly: data/ imports no encoder; evaluation/ imports
    # no encoder, trainer, model or pipeline; training/ imports no concrete model
    for mod, deps in graph.items():
        layers = {layer_of(d) for d in deps}
        if mod.startswith("lmrec.data."):
            assert not layers & {"encoders", "features", "models", "training", "evaluation"}, (mod, deps)
        if mod.startswith("lmrec.evaluation"):
            assert layers <= {"foundation", "data", "evaluation"}, (mod, deps)
        if mod.startswith("lmrec.training"):
            assert "models" not in layers, (mod, deps)


# ------------------------------------------------------------------------------ the checker itself

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / "lmrec" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_checker_finds_a_lazy_cycle_and_an_upward_import(tmp_path):
    src = _tree(tmp_path, {
        "__init__.py": "",
        "data/__init__.py": "",
        "data/text.py": "def f():\n    from lmrec.encoders.cache import g\n",   # data -> encoders (lazy)
        "encoders/__init__.py": "",
        "encoders/cache.py": "from lmrec.data import text\nfrom .base import X\n",
        "encoders/base.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import cache\n",
    })
    g = import_graph(src)
    assert g["lmrec.encoders.cache"] == {"lmrec.data.text", "lmrec.encoders.base"}
    assert cycles(g) == [["lmrec.data.text", "lmrec.encoders.base", "lmrec.encoders.cache"]]
    assert upward_edges(g) == ["lmrec.data.text (data) -> lmrec.encoders.cache (encoders)"]


def test_checker_accepts_a_clean_tree(tmp_path):
    src = _tree(tmp_path, {
        "__init__.py": "",
        "io.py": "import os\n",
        "data/__init__.py": "",
        "data/text.py": "from lmrec import io\n",
        "models/__init__.py": "from lmrec.models.base import Recommender\n",
        "models/base.py": "from lmrec.data.text import x\nfrom lmrec.training import loop\n",
        "training/__init__.py": "",
        "training/loop.py": "from lmrec.evaluation.metrics import ndcg\n",
        "evaluation/__init__.py": "",
        "evaluation/metrics.py": "import numpy\n",
    })
    g = import_graph(src)
    assert g["lmrec.data.text"] == {"lmrec.io"}
    assert g["lmrec.models.base"] == {"lmrec.data.text", "lmrec.training.loop"}
    assert cycles(g) == [] and upward_edges(g) == []
