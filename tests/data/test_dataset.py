import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import RecDataset
from lmrec.data.idmap import IdMap


def test_external_id_zero_is_a_normal_item_and_maps_are_stable(tmp_path):
    inter = pd.DataFrame({"user_id": [7, 7, 3], "item_id": ["0", "15", "0"]})
    items = pd.DataFrame({"title": ["zero", "fifteen", "never rated"]}, index=["0", "15", "99"])
    ds = RecDataset("t", inter, items)
    assert ds.item_map.ids == ["0", "15", "99"]
    assert ds.item_index.tolist() == [0, 1, 0]
    assert ds.user_map.ids == ["7", "3"]
    ds.item_map.save(tmp_path / "items.json")
    assert IdMap.load(tmp_path / "items.json") == ds.item_map


def test_idmap_rejects_duplicates_and_names_unknown_ids():
    with pytest.raises(ValueError, match="'a'"):
        IdMap(["a", "b", "a"])
    with pytest.raises(KeyError, match="'zz'"):
        IdMap(["a"]).index("zz")


def test_statistics_text_coverage_ignores_nan_and_empty():
    inter = pd.DataFrame({"user_id": ["u"] * 3, "item_id": ["a", "b", "c"], "timestamp": [1, 2, 3]})
    items = pd.DataFrame({"title": ["x", np.nan, "  "]}, index=["a", "b", "c"])
    s = RecDataset("t", inter, items).statistics()
    assert s["n_users"] == 1 and s["n_items"] == 3 and s["n_interactions"] == 3
    assert s["text_coverage"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["has_timestamps"] is True


def test_bad_split_label_is_refused():
    inter = pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "split": ["dev"]})
    with pytest.raises(ValueError, match="dev"):
        RecDataset("t", inter, pd.DataFrame(index=["a"]))
