"""UNBERT early stopping on validation impressions keeps the best state (tiny random BERT)."""

import pytest

from lmrec.data.loaders.mind import load_mind
from lmrec.data.news import split_by_user
from lmrec.evaluation.impressions import evaluate_impressions
from lmrec.models.news_base import create_news_model
from test_news_end_to_end import write_news, write_tiny_bert


def test_unbert_early_stopping_restores_best_validation_state(tmp_path):
    bert = write_tiny_bert(tmp_path / "bert")
    (tmp_path / "m").mkdir()
    (tmp_path / "u").mkdir()
    folder, _ = write_news(tmp_path / "m", tmp_path / "u")
    parts = split_by_user(load_mind(folder), (0.8, 0.1, 0.1), seed=0)
    model = create_news_model("unbert", encoder=bert, tune_layers=1, batch_size=8, lr=3e-3, plm_lr=1e-3,
                              epochs=4, seed=0)
    model.fit(parts["train"], valid=parts["valid"], patience=2)
    info = model.fit_info_
    assert 1 <= len(info["valid_history"]) <= 4
    assert info["best_valid"] == max(score for _, score in info["valid_history"])
    # the model handed back is the best one seen, not the last
    again = evaluate_impressions(model.score(parts["valid"]), parts["valid"].impressions.labels)
    assert again["metrics"]["auc"] == pytest.approx(info["best_valid"], abs=1e-6)
