"""TransRec-style tuning of the encoder's top layers with a text SASRec (packaged MiniLM, offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmrec.data.splits import make_split
from lmrec.models.base import TrainData
from lmrec.models.sasrec import SASRec
from lmrec.training.end_to_end import TopLayerItemEncoder, tune_end_to_end
from test_transfer_zero_shot import ring_dataset


@pytest.fixture(scope="module")
def encoder():
    from lmrec.encoders.factory import load_encoder

    return load_encoder(None)


TEXTS = ["stainless steel funnel", "digital caliper 6 inch", "", "nitrile gloves, large, box of 100"]


def _fitted(encoder, n_users: int = 12, n_items: int = 6):
    """A ring dataset's leave-one-out split, its text vectors, a 1-epoch text SASRec and a
    one-layer :class:`TopLayerItemEncoder` over the same item texts."""
    split = make_split(ring_dataset("t", n_users=n_users, n_items=n_items), "leave-one-out")
    texts = [f"item number {i} of the ring" for i in range(split.n_items)]
    vecs = encoder.encode(texts)
    model = SASRec(item_input="text", hidden=8, inner=16, epochs=1).fit(TrainData(split, vecs))
    return split, vecs, model, TopLayerItemEncoder(encoder, texts, n_tuned_layers=1, max_tokens=16)


def test_cached_bottom_plus_top_layers_reproduce_the_encoder(encoder):
    top = TopLayerItemEncoder(encoder, TEXTS, n_tuned_layers=2, max_tokens=32)
    got = top.encode_all().numpy()
    want = encoder.encode(TEXTS)
    assert got.shape == (4, encoder.dim)
    assert np.abs(got[2]).sum() == 0.0  # empty text → zero vector, like the cache
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert top.info["tuned_parameters"] > 0 and top.info["n_layers"] == 6


def test_tuning_moves_only_the_copied_layers(encoder):
    split, vecs, model, top = _fitted(encoder, n_users=12, n_items=6)
    before = [p.detach().clone() for p in top.top.parameters()]
    shared_before = next(encoder.model[0].auto_model.encoder.layer[-1].parameters()).detach().clone()
    hist = tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=1e-3, epochs=1, items_per_step=4)
    assert len(hist["epochs"]) == 1 and hist["encoder"]["n_tuned_layers"] == 1
    if hist["best_epoch"] == 0:  # the tuned weights were kept
        assert any(not torch.equal(a, b) for a, b in zip(before, top.top.parameters()))
    shared_after = next(encoder.model[0].auto_model.encoder.layer[-1].parameters())
    assert torch.equal(shared_before, shared_after)  # the shared encoder is never modified
    assert model.score(split.test.users[:2], split.test.histories[:2]).shape == (2, 6)


def test_recommender_lr_of_the_continuation(encoder):
    split, vecs, model, top = _fitted(encoder, n_users=8, n_items=5)
    hist = tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=0.0, epochs=1, recommender_lr=2e-4)
    assert hist["recommender_lr"] == 2e-4
    assert tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=0.0, epochs=1)["recommender_lr"] == \
        model.config["lr"]
    with pytest.raises(ValueError, match="recommender_lr must be > 0"):
        tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=0.0, epochs=1, recommender_lr=0.0)


def test_a_frozen_control_run_does_not_freeze_a_later_tuned_run(encoder):
    """The benchmark runs the frozen control and then the tuned run on the same encoder copy."""
    split, vecs, model, top = _fitted(encoder, n_users=12, n_items=6)
    tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=0.0, epochs=1, items_per_step=4)
    assert not any(p.requires_grad for p in top.top.parameters())
    seen = []
    original_step = torch.optim.Adam.step

    def step(self, *a, **k):               # record whether the encoder layers got gradients
        seen.append(any(p.grad is not None and p.grad.abs().sum() > 0 for p in top.top.parameters()))
        return original_step(self, *a, **k)

    torch.optim.Adam.step = step
    try:
        tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=1e-3, epochs=1, items_per_step=4)
    finally:
        torch.optim.Adam.step = original_step
    assert seen and all(seen)


def test_rows_re_encoded_in_training_match_the_cached_rows(encoder):
    """No dropout on the re-encoded rows: with the encoder unchanged they equal the cached table,
    so the recommender cannot tell this step's items from the others by their noise."""
    split, vecs, model, top = _fitted(encoder, n_users=12, n_items=6)
    cached = top.encode_all()
    calls = []
    original = TopLayerItemEncoder.forward

    def forward(self, rows):
        out = original(self, rows)
        if torch.is_grad_enabled():
            calls.append((self.training, torch.allclose(out.detach(), cached[rows], atol=1e-6)))
        return out

    TopLayerItemEncoder.forward = forward
    try:
        tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=1e-12, epochs=1, items_per_step=4)
    finally:
        TopLayerItemEncoder.forward = original
    assert calls and all(not training and same for training, same in calls)


def test_standardisation_is_refitted_at_every_refresh(encoder, monkeypatch):
    """A drifted dimension of the tuned encoder's vectors reaches the recommender standardised again."""
    import lmrec.evaluation.ranking as ranking

    split, vecs, model, top = _fitted(encoder, n_users=12, n_items=6)
    original = top.encode_all
    seen = []

    def drifting():                      # after the first validation, dimension 0 is 50× wider
        out = original().clone()
        if seen:
            out[:, 0] *= 50.0
        return out

    monkeypatch.setattr(top, "encode_all", drifting)
    monkeypatch.setattr(ranking, "evaluate_ranking", lambda *a, **k: (
        seen.append(model.net_.text[1:, 0].std().item()) or {"metrics": {"ndcg@10": 0.0}}))
    tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=1e-6, epochs=1, items_per_step=4)
    assert len(seen) == 2 and seen[1] == pytest.approx(seen[0], rel=0.05)   # not 50× larger


def test_cosine_score_models_tune_on_their_own_objective(encoder):
    """With cosine scores the tuning loss is the model's own: its Transformer reads the rows built from
    the (re-encoded) text, its softmax runs over the same rows normalised (``score_table``)."""
    from lmrec.training.trainer import next_item_loss

    split = make_split(ring_dataset("t", n_users=12, n_items=6), "leave-one-out")
    texts = [f"item number {i} of the ring" for i in range(split.n_items)]
    vecs = encoder.encode(texts)
    model = SASRec(item_input="text", hidden=8, inner=16, epochs=1, scores="cosine", text_adaptor="mlp",
                   adaptor_hidden=8).fit(TrainData(split, vecs))
    net = model.net_.eval()
    seq = torch.tensor([[0, 1, 2, 3], [2, 3, 4, 5]])
    mask = (torch.arange(len(net.text)) > 0)[:, None]
    with torch.no_grad():
        own = next_item_loss(net, seq, net.item_table())
        tuned_path = next_item_loss(net, seq, net.score_table(net.text_proj(net.text) * mask))
    assert float(tuned_path) == pytest.approx(float(own), rel=1e-6)
    top = TopLayerItemEncoder(encoder, texts, n_tuned_layers=1, max_tokens=16)
    hist = tune_end_to_end(model, TrainData(split, vecs), top, encoder_lr=1e-4, epochs=1, items_per_step=4)
    assert len(hist["epochs"]) == 1 and np.isfinite(hist["epochs"][0]["loss"])
