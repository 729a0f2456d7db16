"""Persistence of the item store and index cache: restarts, torn writes, corruption."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lmrec.serving import ItemStore, RecommendationService, StoreCorruptError
from lmrec.serving.store import NewItem


def _store(folder, dim=4):
    vecs = np.eye(3, dim, dtype=np.float32)
    return ItemStore(folder, ["a", "b", "c"], ["A", "B", "C"], vecs)


def test_store_round_trip_ids_and_vectors(tmp_path):
    s = _store(tmp_path)
    assert s.add([NewItem("d", "D", np.full(4, 0.5, np.float32))]) == [3]
    s.delete("b")
    again = _store(tmp_path)
    assert again.row("d") == 3 and again.titles[3] == "D" and "b" not in again and len(again) == 3
    np.testing.assert_array_equal(again.text_vectors([3, 0]), [[0.5] * 4, [1, 0, 0, 0]])
    # a deleted id may come back, under a new index id
    assert again.add([NewItem("b", "B2", np.ones(4, np.float32))]) == [4]
    assert _store(tmp_path).row("b") == 4


def test_store_rejects_bad_input(tmp_path):
    s = _store(tmp_path)
    with pytest.raises(KeyError, match="'a' already exists"):
        s.add([NewItem("a", "A", np.ones(4, np.float32))])
    with pytest.raises(ValueError, match="twice"):
        s.add([NewItem("x", "X", np.ones(4, np.float32)), NewItem("x", "X", np.ones(4, np.float32))])
    with pytest.raises(ValueError, match="4 finite floats"):
        s.add([NewItem("y", "Y", np.array([1, np.nan, 0, 0], np.float32))])
    assert len(_store(tmp_path)) == 3            # nothing was journaled


def test_torn_last_record_is_dropped(tmp_path):
    s = _store(tmp_path)
    s.add([NewItem("d", "D", np.ones(4, np.float32))])
    with open(s.path, "a") as f:
        f.write('{"op":"add","items":[{"item_id":"e"')         # the process died mid-write
    with pytest.warns(UserWarning, match="incomplete last record"):
        again = _store(tmp_path)
    assert "d" in again and "e" not in again
    assert s.path.read_text().endswith("\n")


def test_corrupt_record_is_refused(tmp_path):
    s = _store(tmp_path)
    s.add([NewItem("d", "D", np.ones(4, np.float32))])
    lines = s.path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"D"', '"E"')                # flipped bytes, checksum no longer matches
    s.path.write_text("".join(lines))
    with pytest.raises(StoreCorruptError, match="journal.jsonl line 2: checksum mismatch"):
        _store(tmp_path)


def test_journal_of_another_catalog_is_refused(tmp_path):
    _store(tmp_path)
    with pytest.raises(StoreCorruptError, match="another catalog"):
        ItemStore(tmp_path, ["a", "b", "z"], ["A", "B", "Z"], np.eye(3, 4, dtype=np.float32))


def test_corrupt_index_cache_is_rebuilt_never_served(make_serving_run, encoder, tmp_path):
    run = make_serving_run("embknn", encoder)
    first = RecommendationService(run, encoder=encoder)
    want = [r.item_id for r in first.similar("2", 5)]
    cache = run / "serving" / "index-flat"
    assert cache.is_dir()
    victim = max((p for p in cache.iterdir() if p.name != "config.json"), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="unusable"):
        second = RecommendationService(run, encoder=encoder)
    assert [r.item_id for r in second.similar("2", 5)] == want
    # the cache was rewritten and loads cleanly now
    from lmrec.index.ann import AnnIndex

    assert len(AnnIndex.load(cache)) == 12


def test_index_cache_of_other_vectors_is_rebuilt(make_serving_run, encoder):
    run = make_serving_run("embknn", encoder)
    RecommendationService(run, encoder=encoder)
    meta = run / "serving" / "index-flat.json"
    meta.write_text(json.dumps({"fingerprint": "0" * 32}))
    svc = RecommendationService(run, encoder=encoder)
    assert len(svc.similar("2", 50)) == 11
    assert json.loads(meta.read_text())["fingerprint"] != "0" * 32


def test_wrong_encoder_is_refused(make_serving_run, encoder):
    run = make_serving_run("embknn", encoder)
    other = type(encoder)(dim=16)
    other.identity = lambda: {"backend": "wordhash", "model": "other", "dim": 16}
    with pytest.raises(ValueError, match="not the one run"):
        RecommendationService(run, encoder=other)
