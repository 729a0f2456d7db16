"""Defaults a model *name* sets over its class's (``NAME_DEFAULTS``): ``sasrec-text`` is the MLP
adaptor with cosine scores; parameters override them; runs saved without them load as what they were."""

import json

import numpy as np
import pytest

from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model, load_recommender
from lmrec.models.registry import name_defaults

SMALL = {"hidden": 16, "inner": 32, "batch_size": 32, "dropout": 0.1, "lr": 5e-3, "epochs": 2, "patience": 2}


def test_sasrec_text_defaults_to_the_mlp_adaptor_with_cosine_scores_and_params_override_them():
    cfg = create_model("sasrec-text").config
    assert (cfg["text_adaptor"], cfg["scores"]) == ("mlp", "cosine")
    cfg = create_model("sasrec-text", text_adaptor="linear", scores="dot").config
    assert (cfg["text_adaptor"], cfg["scores"]) == ("linear", "dot")
    for name in ("sasrec-id", "sasrec-text-id"):     # measured worse or mixed there: class defaults
        cfg = create_model(name).config
        assert (cfg["text_adaptor"], cfg["scores"]) == ("linear", "dot") and name_defaults(name) == {}
    assert name_defaults("sasrec-text") == {"text_adaptor": "mlp", "scores": "cosine"}
    with pytest.raises(ValueError, match="unknown model"):
        name_defaults("bert4rec")


def test_a_run_saved_before_the_name_default_loads_with_the_linear_adaptor_and_dot_scores(tiny_dataset, tmp_path):
    """A config written without ``text_adaptor`` / ``scores`` (runs saved before they existed) is rebuilt
    with the class defaults, i.e. what trained it — not with the name's newer defaults."""
    split = leave_one_out(tiny_dataset)
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    model = create_model("sasrec-text", **SMALL, text_adaptor="linear", scores="dot")
    model.fit(TrainData(split=split, item_vectors=vectors, seed=0))
    model.save(tmp_path / "run")
    cfg_path = tmp_path / "run" / "config.json"
    saved = json.loads(cfg_path.read_text())
    for key in ("text_adaptor", "adaptor_hidden", "scores", "temperature"):
        del saved["config"][key]
    cfg_path.write_text(json.dumps(saved))
    again = load_recommender(tmp_path / "run", vectors)
    assert (again.config["text_adaptor"], again.config["scores"]) == ("linear", "dot")
    cases = split.test
    np.testing.assert_allclose(again.score(cases.users[:4], cases.histories[:4]),
                               model.score(cases.users[:4], cases.histories[:4]), rtol=1e-6, atol=1e-6)
