"""Multi-domain pre-training to convergence: held-out source users, early stopping, resumable checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmrec.data.idmap import IdMap
from lmrec.data.multidomain import Domain, MultiDomainDataset, hold_out_source_users
from lmrec.models.unisrec import pretrain_unisrec
from lmrec.models.zesrec import pretrain_zesrec
from lmrec.training.pretrain import PretrainConfig, train_until_converged

TINY = dict(hidden=8, inner=8, n_heads=2, n_layers=1, n_experts=2, max_len=6, batch_size=16, zesrec_hidden=8)


def private_item_domains(n_users: int = 40, shared: int = 4) -> tuple[MultiDomainDataset, np.ndarray]:
    """Two domains; user ``u`` of a domain walks two shared items, then two items only ``u`` has.

    Text vectors are one-hot (``[n_items, n_items]``), so a vector seen by the net names its item.
    """
    domains, offset = [], 0
    for name in ("a", "b"):
        ids = [f"{name}s{j}" for j in range(shared)] + [f"{name}p{u}_{t}" for u in range(n_users) for t in range(2)]
        train = [np.array([u % shared, (u + 1) % shared, shared + 2 * u, shared + 2 * u + 1]) for u in range(n_users)]
        domains.append(Domain(name, IdMap(ids), ids, train, offset))
        offset += len(ids)
    md = MultiDomainDataset(domains, {"domains": [{"name": d.name} for d in domains]})
    return md, np.eye(md.n_items, dtype=np.float32)


def test_holdout_is_seeded_capped_and_disjoint():
    md, _ = private_item_domains(n_users=40)
    md.domains[1].train[0] = md.domains[1].train[0][:2]  # too short to be held out (< 3 items)
    h = hold_out_source_users(md, 500, seed=3)
    assert h.report["n_valid"] == {"a": 4, "b": 4}  # capped at 10 % of 40 users
    again = hold_out_source_users(md, 500, seed=3)
    assert [v.users.tolist() for v in h.valid] == [v.users.tolist() for v in again.valid]
    assert [v.users.tolist() for v in h.valid] != [v.users.tolist() for v in hold_out_source_users(md, 500, seed=4).valid]
    assert 0 not in h.valid[1].users
    assert len(h.train) == 80 - 8 and h.n_valid == 8
    for k, (v, d) in enumerate(zip(h.valid, md.domains)):
        for u, hist, tgt in zip(v.users, v.histories, v.targets):
            assert hist.tolist() == d.train[u][:-1].tolist() and tgt.tolist() == [d.train[u][-1]]
            assert not any(np.array_equal(d.train[u] + d.offset, s) for s in h.train)
    assert hold_out_source_users(md, 2, seed=0).report["n_valid"] == {"a": 2, "b": 2}
    assert hold_out_source_users(md, 0).n_valid == 0
    with pytest.raises(ValueError, match="max_share"):
        hold_out_source_users(md, 5, max_share=1.0)


class ItemSpy:
    """Records which one-hot item rows pass through a module while it is in training mode."""

    def __init__(self, module, method: str):
        self.seen: set[int] = set()
        inner = getattr(module, method)

        def wrapped(x, *args, **kwargs):
            if module.training:
                self.seen |= set(x.argmax(dim=-1).reshape(-1).tolist())
            return inner(x, *args, **kwargs)
        setattr(module, method, wrapped)


@pytest.mark.parametrize("model", ["unisrec", "zesrec"])
def test_held_out_users_are_never_trained_on(model, monkeypatch):
    md, vec = private_item_domains()
    cfg = PretrainConfig(**TINY, epochs=2, patience=0, valid_users=3, seed=1)
    holdout = hold_out_source_users(md, cfg.valid_users, seed=cfg.seed)
    private = {d.offset + int(i) for d, v in zip(md.domains, holdout.valid) for s in v.histories for i in s[2:]}
    private |= {d.offset + int(t[0]) for d, v in zip(md.domains, holdout.valid) for t in v.targets}
    assert len(private) == 2 * 2 * 3  # 3 held-out users per domain, 2 private items each
    spies = []
    if model == "unisrec":
        import lmrec.models.unisrec as mod
        build = mod.build_unisrec_net

        def spying_build(*a, **k):
            net = build(*a, **k)
            spies.append(ItemSpy(net, "represent"))
            return net
        monkeypatch.setattr(mod, "build_unisrec_net", spying_build)
        pre = pretrain_unisrec(md, vec, vec[None], cfg, encoder_identity={}, encoder_hash="x")
    else:
        import lmrec.models.zesrec as mod
        cls = mod.ZESRecNet

        class SpyingNet(cls):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                spies.append(ItemSpy(self, "items"))
        monkeypatch.setattr(mod, "ZESRecNet", SpyingNet)
        pre = pretrain_zesrec(md, vec, cfg, encoder_identity={}, encoder_hash="x")
    seen = spies[0].seen
    all_private = {d.offset + j for d in md.domains for j in range(4, d.n_items)}
    assert seen & private == set()  # no item of a held-out user was ever in a training batch
    assert all_private - private <= seen  # while every training user's private items were
    h = pre.pretraining["training"]
    assert h["n_valid_per_domain"] == {"a": 3, "b": 3} and h["n_valid"] == 6
    assert [r["epoch"] for r in h["epochs"]] == [-1, 0, 1] and h["stopped"] == "epochs"
    assert all(0.0 <= r["valid_ndcg@10"] <= 1.0 for r in h["epochs"]) and h["peak_rss_mib"] > 0


def _weights(pre) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in pre.state.items()}


def _curve(history) -> list[dict]:
    drop = {"seconds", "valid_seconds", "peak_rss_mib"}
    return [{k: v for k, v in r.items() if k not in drop} for r in history["epochs"]]


@pytest.mark.parametrize("model", ["unisrec", "zesrec"])
def test_resumed_run_equals_uninterrupted_run(model, tmp_path):
    md, vec = private_item_domains(n_users=30)

    def run(epochs: int, ckpt=None):
        cfg = PretrainConfig(**TINY, epochs=epochs, patience=0, valid_users=3, seed=0,
                             checkpoint_path=str(ckpt) if ckpt else None)
        if model == "unisrec":
            return pretrain_unisrec(md, vec, vec[None] * 0.9, cfg, encoder_identity={}, encoder_hash="x")
        return pretrain_zesrec(md, vec, cfg, encoder_identity={}, encoder_hash="x")

    straight = run(4)
    ckpt = tmp_path / "ckpt.pt"
    first = run(2, ckpt)
    assert ckpt.exists() and not (tmp_path / "ckpt.pt.tmp").exists()
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    resumed = run(4, ckpt)
    h, h0 = resumed.pretraining["training"], straight.pretraining["training"]
    assert h["resumed_at_epoch"] == [2] and len(first.pretraining["training"]["epochs"]) == 3
    assert _curve(h) == _curve(h0)  # every loss and held-out metric of epochs -1..3
    assert h["best_epoch"] == h0["best_epoch"] and h["stopped"] == h0["stopped"] == "epochs"
    a, b = _weights(resumed), _weights(straight)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    md, vec = private_item_domains(n_users=30)
    ckpt = tmp_path / "ckpt.pt"
    cfg = PretrainConfig(**TINY, epochs=1, valid_users=3, seed=0, checkpoint_path=str(ckpt))
    pretrain_zesrec(md, vec, cfg, encoder_identity={}, encoder_hash="x")
    other = PretrainConfig(**{**TINY, "zesrec_hidden": 4}, epochs=2, valid_users=3, seed=0, checkpoint_path=str(ckpt))
    with pytest.raises(ValueError, match=r"ckpt\.pt belongs to another pre-training run: config\.zesrec_hidden is 8"):
        pretrain_zesrec(md, vec, other, encoder_identity={}, encoder_hash="x")
    with pytest.raises(ValueError, match=r"ckpt\.pt belongs to another pre-training run: model is 'zesrec'"):
        pretrain_unisrec(md, vec, vec[None], cfg, encoder_identity={}, encoder_hash="x")
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        pretrain_zesrec(md, vec, cfg, encoder_identity={}, encoder_hash="x")


class Counter(torch.nn.Module):
    """One parameter that each training epoch increments by one."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))


def scripted_run(values, *, patience, epochs, checkpoint=None, crash_at=None):
    """Train a :class:`Counter` with held-out NDCG@10 ``values[e + 1]`` after epoch ``e`` (values[0]: untrained)."""
    net = Counter()
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    rng = np.random.default_rng(0)

    def run_epoch(epoch, deadline):
        if epoch == crash_at:
            raise KeyboardInterrupt  # stands in for kill -9 in the middle of an epoch
        with torch.no_grad():
            net.w += 1
        return {"loss": float(rng.random())}, False

    def validate():
        v = values[int(net.w.item())]
        return {"recall@10": v, "ndcg@10": v, "per_domain": {"d": {"recall@10": v, "ndcg@10": v}}}

    return net, train_until_converged(net, opt, rng, run_epoch, validate, {"epochs": []}, epochs=epochs,
                                      patience=patience, checkpoint_path=checkpoint, checkpoint_key={"run": 1})


def test_early_stopping_restores_the_best_epoch():
    net, h = scripted_run([0.1, 0.3, 0.2, 0.25, 0.5], patience=2, epochs=10)
    # epoch 0 → 0.3 (best), epoch 1 → 0.2, epoch 2 → 0.25: two epochs without improvement
    assert h["stopped"] == "patience" and h["best_epoch"] == 0 and h["epochs_run"] == 3
    assert net.w.item() == 1.0  # the weights after epoch 0
    assert h["best_valid_ndcg@10"] == 0.3 and h["valid_ndcg@10_untrained"] == 0.1
    net, h = scripted_run([0.4, 0.3, 0.2], patience=0, epochs=2)
    assert h["stopped"] == "epochs" and h["best_epoch"] == -1 and net.w.item() == 0.0  # untrained was best


def test_killed_run_loses_at_most_the_epoch_in_progress(tmp_path):
    values = [0.0, 0.1, 0.2, 0.3, 0.15, 0.1, 0.05]
    ckpt = tmp_path / "ck.pt"
    with pytest.raises(KeyboardInterrupt):
        scripted_run(values, patience=2, epochs=10, checkpoint=ckpt, crash_at=3)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2  # epochs 0-2 are kept
    net, h = scripted_run(values, patience=2, epochs=10, checkpoint=ckpt)
    _, straight = scripted_run(values, patience=2, epochs=10)
    assert h["resumed_at_epoch"] == [3] and _curve(h) == _curve(straight)
    assert h["stopped"] == "patience" and h["best_epoch"] == 2 and net.w.item() == 3.0
    # a finished run that finds its own checkpoint does not train again
    net, again = scripted_run(values, patience=2, epochs=10, checkpoint=ckpt)
    assert again["epochs_run"] == h["epochs_run"] and again["stopped"] == "patience" and net.w.item() == 3.0
