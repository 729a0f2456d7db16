"""The news models' vocabulary check uses the shared one (lmrec.encoders.vocab_fit): Thai titles under
a tiny English WordPiece vocabulary are counted as unknown and their identical token ids as collisions."""

from __future__ import annotations

import warnings

import pytest

from lmrec.encoders.vocab_fit import VocabularyFitWarning


def test_thai_news_titles_warn_with_collisions(tiny_wordpiece_dir):
    from lmrec.models.news_text import load_tokenizer, warn_on_vocabulary_mismatch

    tok = load_tokenizer(tiny_wordpiece_dir)
    titles = ["ข้าวผัดกุ้ง", "ต้มยำกุ้ง", "movie number 1", "red tea cup"]
    with pytest.warns(VocabularyFitWarning, match="2 distinct texts tokenize to the same ids") as caught:
        fit = warn_on_vocabulary_mismatch(tok, titles, "tiny", "th", max_tokens=30)
    assert "--encoder PATH" in str(caught[0].message)
    v = fit["vocabulary"]
    # 1 + 1 + 3 + 3 tokens, 2 unknown; the two Thai titles both read [UNK]
    assert fit["unk_rate"] == 0.25 and v["n_tokens"] == 8 and v["n_mostly_unknown"] == 2
    assert v["n_collision_groups"] == 1 and [m["id"] for m in v["collision_examples"][0]] == ["0", "1"]
    assert fit["warned"] is True


def test_english_news_titles_do_not_warn(tiny_wordpiece_dir):
    from lmrec.models.news_text import load_tokenizer, warn_on_vocabulary_mismatch

    tok = load_tokenizer(tiny_wordpiece_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = warn_on_vocabulary_mismatch(tok, ["movie number 1", "red tea cup", "green cup"], "tiny", "en")
    assert fit["warned"] is False and fit["vocabulary"]["n_collision_groups"] == 0
