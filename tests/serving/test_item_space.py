"""``ItemSpace``: a trained SASRec written as user vector · index vectors, without HTTP."""

import numpy as np
import pytest

from lmrec.data.splits import cold_start_items, leave_one_out
from lmrec.models import TrainData, create_model
from lmrec.serving.space import ItemSpace

SMALL = {"hidden": 16, "inner": 32, "batch_size": 32, "dropout": 0.1, "lr": 5e-3, "epochs": 2, "patience": 2}


def _fit(name, split, **params):
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    vectors[3] = 0.0                                       # one item without text
    model = create_model(name, **SMALL, **params)
    return model.fit(TrainData(split=split, item_vectors=vectors, seed=0)), vectors


@pytest.mark.parametrize("name", ["sasrec-text", "sasrec-text-id"])
@pytest.mark.parametrize("scores", ["dot", "cosine"])
def test_user_vector_times_index_vectors_is_the_model_score(name, scores, tiny_dataset):
    """The Transformer reads the raw rows, the index holds the normalised ones for cosine runs."""
    split = leave_one_out(tiny_dataset)
    model, vectors = _fit(name, split, scores=scores, text_adaptor="mlp", adaptor_hidden=24)
    cases = split.test
    want = model.score(cases.users[:5], cases.histories[:5])
    space = ItemSpace(model, vectors)
    items = space.base_item_vectors(vectors)
    index = space.index_vectors(items)
    got = np.stack([index @ space.user_vector(items[h]) for h in cases.histories[:5]])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    if scores == "cosine":
        has_text = np.abs(items).sum(axis=1) > 0
        np.testing.assert_allclose(np.linalg.norm(index[has_text], axis=1), 1 / np.sqrt(0.07), rtol=1e-5)
        assert np.abs(got).max() <= 1 / 0.07 + 1e-3
    else:
        np.testing.assert_array_equal(index, items)


@pytest.mark.parametrize("fusion", ["sum", "concat"])
def test_an_item_from_text_gets_the_row_a_cold_item_of_the_run_has(fusion, tiny_dataset):
    """New items (``POST /items``, profile text) are represented as the run represents its cold items."""
    split = cold_start_items(tiny_dataset, cold_frac=0.3, seed=0)
    model, vectors = _fit("sasrec-text-id", split, fusion=fusion)
    cold = ~np.asarray(model.warm_items_, dtype=bool)
    assert cold.any() and (~cold).any()
    space = ItemSpace(model, vectors)
    from_text = space.item_vectors_from_text(vectors)
    np.testing.assert_allclose(from_text[cold], space.base_item_vectors(vectors)[cold], atol=1e-5)
    assert not np.allclose(from_text[~cold], space.base_item_vectors(vectors)[~cold], atol=1e-5)  # IDs add
