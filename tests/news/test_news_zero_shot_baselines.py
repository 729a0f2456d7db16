"""Zero-training news scorers: recency-weighted text similarity and history-only topic match."""

import numpy as np
import pandas as pd
import pytest

from lmrec.data.news import Impressions, NewsDataset
from lmrec.models.news_base import create_news_model
from lmrec.models.news_baselines import NewsTextSimilarity, NewsTopicMatch


def dataset(histories, candidates):
    news = pd.DataFrame({"title": ["a", "b", "c", "d", "e"], "abstract": "",
                         "category": ["sports", "sports", "news", "news", "sports"],
                         "subcategory": ["nba", "nfl", "politics", "us", "nba"]},
                        index=["A", "B", "C", "D", "E"])
    n = len(histories)
    imps = Impressions([str(i) for i in range(n)], [f"u{i}" for i in range(n)], [""] * n,
                       histories, candidates, None)
    return NewsDataset("tiny", news, imps)


def test_recency_weighting_follows_half_life():
    vec = {"A": [1.0, 0.0], "B": [0.0, 1.0], "C": [1.0, 0.0], "D": [0.0, 1.0], "E": [0.6, 0.8]}
    data = dataset([["A", "B"]], [["C", "D"]])
    m = NewsTextSimilarity(reduce="recency", half_life=1.0)
    m.vector_fn = lambda ids, texts: np.array([vec[n] for n in ids])
    # last click B weight 1, A weight 0.5 → user (0.5, 1)/|.|; cos with C = 0.5/√1.25, D = 1/√1.25
    np.testing.assert_allclose(m.score(data)[0], [0.5 / np.sqrt(1.25), 1 / np.sqrt(1.25)], atol=1e-6)
    m.config["reduce"] = "mean"                        # equal weights: C and D tie
    s = m.score(data)[0]
    assert s[0] == pytest.approx(s[1])
    with pytest.raises(ValueError, match="half_life"):
        NewsTextSimilarity(reduce="recency", half_life=0)
    with pytest.raises(ValueError, match="'recency'"):
        NewsTextSimilarity(reduce="median")


def test_topic_match_modes():
    # history: 2 sports (nba, nfl), 1 news (politics); candidates E (sports/nba), D (news/us), C (news/politics)
    data = dataset([["A", "B", "C"], []], [["E", "D", "C"], ["A", "C"]])
    cat = NewsTopicMatch("category").score(data)
    np.testing.assert_allclose(cat[0], [2 / 3, 1 / 3, 1 / 3], atol=1e-6)
    np.testing.assert_array_equal(cat[1], [0.0, 0.0])                     # empty history: tie
    sub = NewsTopicMatch("subcategory").score(data)
    np.testing.assert_allclose(sub[0], [1 / 3 + 1 / 3, 0 + 1 / 6, 1 / 3 + 1 / 6], atol=1e-6)
    tp = create_news_model("topic-match", mode="topicpop").score(data)
    # category share first; popularity in the log's histories (C in 1 history, D in none) breaks the tie
    assert tp[0][0] > tp[0][2] > tp[0][1]
    assert tp[1][0] == pytest.approx(tp[1][1]) and tp[1][0] > 0            # empty history: A, C each in 1 history
    with pytest.raises(ValueError, match="topic-match mode"):
        NewsTopicMatch("brand")


def test_slot_position_rates_and_fallback(tmp_path):
    from lmrec.models.news_base import load_news_model
    from lmrec.models.news_baselines import NewsSlotPosition

    train = dataset([[]] * 4, [["A", "B", "C"]] * 3 + [["A", "B"]])
    train.impressions.labels = [np.array(y, dtype=np.int8) for y in ([1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1])]
    m = NewsSlotPosition().fit(train)
    # size 3: slot 0 clicked 2 of 3 → (2+1)/(3+2) = 0.6; slot 1: 1 of 3 → 0.4; slot 2: 0 of 3 → 0.2
    test = dataset([[]] * 2, [["C", "D", "E"], ["A", "B", "C", "D"]])
    s = m.score(test)
    np.testing.assert_allclose(s[0], [0.6, 0.4, 0.2], atol=1e-6)
    # size 4 unseen: per-slot rate over all sizes (slot 0: 2 of 4 → 0.5; slot 1: 2 of 4 → 0.5;
    # slot 2: 0 of 3 → 0.2; slot 3 never shown → 0.5)
    np.testing.assert_allclose(s[1], [0.5, 0.5, 0.2, 0.5], atol=1e-6)
    again = load_news_model(m.save(tmp_path / "slot"))
    np.testing.assert_allclose(again.score(test)[0], s[0])
