"""Loaders on the real shared datasets (counts from DATASETS.md and the papers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lmrec.data.registry import find_datasets, load_dataset

_BESIDE = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
# as tests/conftest.py's find_shared_datasets: beside the checkout, else $LMREC_DATA_DIR if it holds DATASETS.md
SHARED = next((p for p in (_BESIDE, Path(os.environ.get("LMREC_DATA_DIR") or _BESIDE))
               if (p / "DATASETS.md").is_file()), _BESIDE)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not SHARED.is_dir(), reason=f"real datasets not found at {SHARED}")]


@pytest.mark.parametrize("name, n_users, n_items, n_interactions", [
    ("ml-100k", 943, 1682, 100_000),
    ("ml-latest-small", 610, 9742, 100_836),
    ("amazon-unisrec-scientific", 8442, 4385, 59_427),
    ("amazon-lcrec/Scientific", 8317, 4344, 58_492),
])
def test_counts(name, n_users, n_items, n_interactions):
    ds = load_dataset(name, SHARED)
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (n_users, n_items, n_interactions)


def test_ml100k_text_and_users():
    ds = load_dataset("ml-100k", SHARED)
    assert ds.items.loc["1", "genres"] == ["Animation", "Children's", "Comedy"]
    assert sum("Misérables" in t for t in ds.items["title"]) == 1
    assert ds.users.loc["1", "gender"] == "male" and ds.users.loc["1", "age"] == 24


def test_ml1m_colakg_split():
    ds = load_dataset("ml-1m", SHARED)
    assert ds.n_users == 6040 and len(ds.interactions) == 998_539
    assert ds.interactions["split"].value_counts().to_dict() == {"train": 801_218, "test": 197_321}
    assert ds.interactions["item_id"].nunique() == 3260 and not ds.ordered
    assert ds.items.loc["1", "title"] == "Toy Story (1995)"


def test_unisrec_split_and_truncation():
    ds = load_dataset("amazon-unisrec-scientific", SHARED)
    assert ds.interactions["split"].value_counts().to_dict() == {
        "train": 59_427 - 2 * 8442, "valid": 8442, "test": 8442}
    assert any("3 user(s) (43 interactions" in n for n in ds.notes)
    assert ds.items.index[0] == "B00TNNWMXI" and ds.statistics()["text_coverage"] == 1.0


def test_amazon2018_gift_cards():
    ds = load_dataset("amazon2018-raw/Gift_Cards", SHARED)
    stats = ds.statistics()
    assert (stats["n_users"], stats["n_items_interacted"], stats["n_interactions"]) == (458, 148, 2972)
    assert stats["text_coverage"] == 1.0
    assert "review_text" in ds.interactions.columns


def test_amazon2018_magazine_duplicates_noted():
    ds = load_dataset("amazon2018-raw/Magazine_Subscriptions", SHARED)
    assert (ds.n_users, ds.n_items) == (348, 157)
    assert any("1065 duplicate ASIN line(s)" in n for n in ds.notes)  # 3,385 lines, 2,320 ASINs


def test_news_folders_are_not_listed_as_interaction_datasets():
    infos = {i.name: i for i in find_datasets(SHARED)}
    assert "ml-100k" in infos and "amazon2018-raw/Appliances" in infos
    assert infos["amazon-food-kitchen-llmcdsr"].format == "llmcdsr"
    assert not any(n.startswith(("nemig", "mind")) for n in infos)  # impressions: `lmrec news` reads them
