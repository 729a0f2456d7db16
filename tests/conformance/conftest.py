"""Fixtures of the fault-case conformance suite: one hostile tiny dataset, a tiny encoder, runs.

The dataset (``faults``, ≈ 20 users, 37 items) holds every fault case of issue 15 at once, so each
model is trained once per session and every behavioural test reads the same fitted run:

=====================  ==========================================================================
fault                  where in the data
=====================  ==========================================================================
string ids             items and users ``"0"``, ``"007"`` and ``"7"`` (``"007"`` ≠ ``"7"``), a
                       sparse item id ``"100000"``
missing values         ``None``/NaN titles, categories, years (``nan-title``, ``ph-empty``), a
                       missing rating
numbers                ``year`` is a float column (``1995.0`` renders ``"1995"``)
lists / dicts          ``category`` is a list column and ``attrs`` a struct (dict) column in the
                       Parquet and JSON Lines tables; the CSV table holds their rendered strings,
                       so every format must give the same item texts
HTML / Unicode         ``html-1`` (tags, ``&amp;``), ``html-2`` (double-escaped ``&amp;amp;``),
                       ``cafe-nfc`` / ``cafe-nfd`` (the same title in NFC and NFD)
same text, other id    ``mug-a`` / ``mug-b`` (and the two café items after NFC)
placeholder texts      ``ph-unknown`` ("unknown"), ``ph-none`` ("none"), ``ph-dash`` ("-"),
                       ``ph-na`` ("n/a"), ``ph-punct`` ("???"), ``ph-empty`` (nothing at all);
                       the last three are never interacted with (cold)
over-long text         ``long``: a 3000-word description (the encoder keeps 64 tokens)
non-English text       ``thai-1`` / ``thai-2``: Thai titles that an English WordPiece vocabulary
                       reads as ``[UNK]`` only, so their vectors collide
timestamp ties         user ``tied``: five interactions at the same second
short users            ``short1`` (1 interaction), ``short2`` (2 interactions)
no usable history      ``ph-user``: only placeholder items (no text) — text models must fall back
items only in test     ``only-test``: the last interaction of two users, never in training
=====================  ==========================================================================

The encoder is a random-weight 2-layer BERT (hidden 32, 64 positions) saved with
``save_pretrained`` beside the packaged MiniLM's English tokenizer, loaded by path through
:func:`lmrec.encoders.factory.load_encoder` — the same path the CLI and the service take — so
nothing touches a model hub and encoding 37 texts takes well under a second.

Models are read from :data:`lmrec.models.registry.MODELS` at collection time, so a newly
registered model runs the whole suite without edits; :data:`FAST` shrinks every hyper-parameter a
model accepts (1 epoch, hidden 16 …) and leaves the others at their defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from faults import DATASET, experiment_config, registered_models, write_faults  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models on a shared 2-core box: OpenMP threads spin-wait and slow tiny ops ~100x."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_encoder_dir(tiny_bert_path) -> Path:
    """The shared random-weight BERT of tests/conftest.py (MiniLM's English tokenizer)."""
    return tiny_bert_path


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("conformance")


@pytest.fixture(scope="session")
def cache_dir(workdir) -> Path:
    return workdir / "cache"


@pytest.fixture(scope="session")
def fault_data_dir(workdir) -> Path:
    """The fault dataset as Parquet (list and struct columns) — what every model is trained on."""
    return write_faults(workdir / "data", "parquet")


@pytest.fixture(scope="session")
def fault_dataset(fault_data_dir):
    from lmrec.data.registry import load_dataset

    return load_dataset(DATASET, fault_data_dir)


@pytest.fixture(scope="session")
def fault_encoding(fault_dataset, fault_data_dir, tiny_encoder_dir, cache_dir):
    """``(vectors float32 [n_items, 32], encode report)`` of the fault dataset, through the pipeline's
    encode path (cache, text report, vocabulary fit)."""
    import warnings

    from lmrec.pipeline import encode_items

    cfg = experiment_config("embknn", fault_data_dir, tiny_encoder_dir, cache_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectors, report = encode_items(fault_dataset, cfg)
    return vectors, report, [str(w.message) for w in caught]


class Runs:
    """Lazily trained runs, one per model, shared by the whole session (Python API entry point)."""

    def __init__(self, workdir, data_dir, dataset, encoding, encoder_dir, cache):
        self.workdir, self.data_dir, self.dataset = workdir, data_dir, dataset
        self.encoding, self.encoder_dir, self.cache = encoding, encoder_dir, cache
        self._runs: dict[str, Any] = {}

    def __call__(self, model: str):
        """The :class:`lmrec.pipeline.RunResult` of ``model`` on the fault dataset (trained once)."""
        if model not in self._runs:
            from lmrec.pipeline import run_experiment

            vectors, report, _ = self.encoding
            cfg = experiment_config(model, self.data_dir, self.encoder_dir, self.cache)
            try:
                self._runs[model] = run_experiment(cfg, self.workdir / "runs" / model, dataset=self.dataset,
                                                   item_vectors=vectors, encode_report=report)
            except Exception as exc:            # remembered, so every test of the model reports it
                self._runs[model] = exc
        run = self._runs[model]
        if isinstance(run, Exception):
            raise run
        return run


@pytest.fixture(scope="session")
def runs(workdir, fault_data_dir, fault_dataset, fault_encoding, tiny_encoder_dir, cache_dir) -> Runs:
    return Runs(workdir, fault_data_dir, fault_dataset, fault_encoding, tiny_encoder_dir, cache_dir)


def pytest_generate_tests(metafunc):
    """``model`` parametrises over every registered model."""
    if "model" in metafunc.fixturenames:
        metafunc.parametrize("model", registered_models())
