import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import RecDataset
from lmrec.data.splits import cold_start_items, given, leave_one_out, make_split, temporal, user_sequences


def _ds(rows, ordered=True, **kw):
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", *kw.get("extra", [])])
    items = pd.DataFrame({"title": ["a", "b", "c", "d", "e"]}, index=["0", "1", "2", "3", "4"])
    return RecDataset("t", inter, items, ordered=ordered)


def test_leave_one_out_ties_broken_by_input_order_not_item_id():
    # user a: items 3 and 1 share timestamp 2 — input order (3 then 1) must be kept
    ds = _ds([("a", "0", 1), ("a", "3", 2), ("a", "1", 2), ("a", "2", 3)])
    seqs, tie_share = user_sequences(ds)
    idx = ds.item_map.index
    assert seqs[0].tolist() == [idx("0"), idx("3"), idx("1"), idx("2")]
    assert tie_share == pytest.approx(0.5)
    sp = leave_one_out(ds)
    assert sp.train[0].tolist() == [idx("0"), idx("3")]
    assert sp.valid.targets[0].tolist() == [idx("1")]
    assert sp.test.targets[0].tolist() == [idx("2")]
    assert sp.test.histories[0].tolist() == [idx("0"), idx("3"), idx("1")]
    assert sp.report["tie_share"] == pytest.approx(0.5)


def test_unsorted_input_is_sorted_by_time():
    ds = _ds([("a", "2", 30), ("a", "0", 10), ("a", "1", 20)])
    sp = leave_one_out(ds)
    assert sp.test.targets[0].tolist() == [ds.item_map.index("2")]


def test_short_users_are_train_only_and_reported():
    ds = _ds([("a", "0", 1), ("a", "1", 2), ("a", "2", 3), ("b", "3", 1), ("b", "4", 2)])
    sp = leave_one_out(ds)
    assert len(sp.test) == 1 and sp.test.users.tolist() == [ds.user_map.index("a")]
    assert sp.train[ds.user_map.index("b")].tolist() == [ds.item_map.index("3"), ds.item_map.index("4")]
    assert sp.report["n_users_train_only"] == 1
    for h in sp.valid.histories + sp.test.histories:
        assert len(h) > 0


def test_leave_one_out_refuses_unordered_data():
    ds = _ds([("a", "0", 1), ("a", "1", 2), ("a", "2", 3)], ordered=False)
    with pytest.raises(ValueError, match="no timestamps or sequence order"):
        leave_one_out(ds)


def test_cold_start_items_never_in_train_but_still_targets():
    rows = [(f"u{u}", str((u + t) % 5), t) for u in range(20) for t in range(6)]
    ds = _ds(rows)
    sp = cold_start_items(ds, cold_frac=0.4, seed=1)
    cold = ~sp.warm_items
    assert cold.sum() == 2
    assert all(not cold[t].any() for t in sp.train)
    assert any(cold[t].any() for t in sp.test.targets)
    assert sp.describe()["n_test_targets_cold"] > 0
    # same seed → same cold items
    assert (cold == ~cold_start_items(ds, cold_frac=0.4, seed=1).warm_items).all()


def test_temporal_split_uses_global_cutoffs():
    rows = [("a", "0", 1), ("a", "1", 2), ("b", "2", 3), ("a", "3", 9), ("b", "4", 10)]
    ds = _ds(rows)
    sp = temporal(ds, valid_frac=0.2, test_frac=0.2)
    assert sum(len(t) for t in sp.train) == 3
    # every held-out case has a non-empty history made of earlier interactions only
    for h, tg in zip(sp.test.histories, sp.test.targets):
        assert len(h) > 0 and not set(h.tolist()) & set(tg.tolist())


def test_given_split_without_valid_carves_one_and_reports():
    inter = pd.DataFrame({"user_id": ["a"] * 4, "item_id": ["0", "1", "2", "3"],
                          "split": ["train", "train", "train", "test"]})
    items = pd.DataFrame({"title": list("abcd")}, index=list("0123"))
    ds = RecDataset("g", inter, items, ordered=False)
    sp = given(ds, seed=0)
    assert len(sp.valid) == 1 and len(sp.train[0]) == 2
    assert sp.test.targets[0].tolist() == [ds.item_map.index("3")]
    assert "valid_policy" in sp.report
    assert make_split(ds, "auto").name == "given"


def test_unknown_split_name_lists_choices():
    ds = _ds([("a", "0", 1), ("a", "1", 2), ("a", "2", 3)])
    with pytest.raises(ValueError, match="leave-one-out"):
        make_split(ds, "random")


def test_split_without_test_cases_says_why():
    ds = _ds([("a", "0", 1), ("b", "1", 2), ("c", "2", 3), ("c", "3", 4)])     # at most 2 per user
    with pytest.raises(ValueError, match=r"dataset 't': the leave-one-out split has no test cases .* at least 3 "
                                         r"interactions .* the most any of its 3 users has is 2"):
        make_split(ds, "leave-one-out")
    one_each = _ds([("a", "0", 1), ("b", "1", 2), ("c", "2", 3), ("d", "3", 4)])
    with pytest.raises(ValueError, match="the temporal split has no test cases"):
        make_split(one_each, "temporal")
