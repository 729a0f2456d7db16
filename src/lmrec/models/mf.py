"""Rating-prediction baselines: the global mean and biased matrix factorisation.

Biased MF (Koren, Bell & Volinsky, "Matrix Factorization Techniques for Recommender Systems",
IEEE Computer 2009): ``r̂(u, i) = μ + b_u + b_i + p_u · q_i``, trained by minimising squared
error plus L2 on ``b_u, b_i, p_u, q_i`` (full-batch Adam; the data sets here have a few
thousand pairs), early-stopped on validation RMSE. Users/items never seen in training keep
zero bias and zero factors, so they fall back to ``μ`` (+ the other side's bias).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np


def _check(users: np.ndarray, items: np.ndarray, ratings: np.ndarray | None = None) -> tuple:
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if users.shape != items.shape or (ratings is not None and np.shape(ratings) != users.shape):
        raise ValueError(f"users {users.shape}, items {items.shape} and ratings "
                         f"{None if ratings is None else np.shape(ratings)} must have the same length")
    if ratings is not None:
        ratings = np.asarray(ratings, dtype=np.float32)
        if users.size == 0 or not np.isfinite(ratings).all():
            raise ValueError("need at least one training pair and finite ratings")
    return users, items, ratings


def _save_config(path: Path, name: str, config: dict[str, Any]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / "config.json.tmp"
    tmp.write_text(json.dumps({"model": name, "config": config}, indent=2))
    os.replace(tmp, path / "config.json")


class GlobalMean:
    """Predicts the mean training rating for every pair.

    Attributes
    ----------
    mean_:
        ``float`` mean of the training ratings.
    """

    name = "global-mean"

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.history_: dict[str, Any] = {}

    def fit(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> "GlobalMean":
        """Learn ``mean_`` from ``float [n]`` ratings; returns ``self``."""
        _, _, ratings = _check(users, items, ratings)
        self.mean_ = float(np.mean(ratings))
        return self

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``float32 [n]`` — the mean for every pair."""
        users, _, _ = _check(users, items)
        return np.full(len(users), self.mean_, dtype=np.float32)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``config.json`` with the mean."""
        _save_config(Path(path), self.name, {"mean": self.mean_})


class BiasedMF:
    """Biased matrix factorisation for explicit ratings (see module docstring).

    Parameters
    ----------
    dim:
        Latent factors per user/item.
    l2:
        L2 weight on biases and factors (per observed rating, as in Koren et al.).
    lr, epochs, patience:
        Full-batch Adam steps with early stopping on validation RMSE.
    clip:
        Predictions are clipped to ``[clip[0], clip[1]]`` (the rating scale).

    Attributes
    ----------
    mu_:
        ``float`` global mean.
    user_bias_, item_bias_:
        ``float32 [n_users]`` / ``[n_items]``.
    user_factors_, item_factors_:
        ``float32 [n_users, dim]`` / ``[n_items, dim]``.
    """

    name = "mf"

    def __init__(self, dim: int = 16, l2: float = 0.05, lr: float = 0.01, epochs: int = 2000, patience: int = 50,
                 clip: tuple[float, float] = (1.0, 5.0)):
        if dim < 1 or epochs < 1 or patience < 1 or lr <= 0 or l2 < 0:
            raise ValueError(f"BiasedMF needs dim, epochs, patience ≥ 1, lr > 0, l2 ≥ 0 "
                             f"(got dim={dim}, epochs={epochs}, patience={patience}, lr={lr}, l2={l2})")
        self.config: dict[str, Any] = {"dim": dim, "l2": l2, "lr": lr, "epochs": epochs, "patience": patience,
                                       "clip": list(clip)}
        self.history_: dict[str, Any] = {}

    def fit(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, *,
            valid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, n_users: int | None = None,
            n_items: int | None = None, seed: int = 0) -> "BiasedMF":
        """Fit on ``int64 [n]`` users/items and ``float [n]`` ratings; early-stop on ``valid``.

        Returns ``self``. Raises ``ValueError`` on mismatched lengths or non-finite ratings.
        """
        import torch

        users, items, ratings = _check(users, items, ratings)
        n_users = int(n_users if n_users is not None else users.max() + 1)
        n_items = int(n_items if n_items is not None else items.max() + 1)
        c = self.config
        torch.manual_seed(seed)
        mu = float(ratings.mean())
        p = torch.nn.Parameter(torch.randn(n_users, c["dim"]) * 0.01)
        q = torch.nn.Parameter(torch.randn(n_items, c["dim"]) * 0.01)
        bu = torch.nn.Parameter(torch.zeros(n_users))
        bi = torch.nn.Parameter(torch.zeros(n_items))
        params = [p, q, bu, bi]
        opt = torch.optim.Adam(params, lr=c["lr"])
        u_t, i_t, r_t = map(torch.from_numpy, (users, items, ratings))
        t0 = time.perf_counter()
        best, best_state, best_epoch, bad = float("inf"), None, -1, 0
        for epoch in range(c["epochs"]):
            pred = mu + bu[u_t] + bi[i_t] + (p[u_t] * q[i_t]).sum(-1)
            reg = (bu[u_t] ** 2 + bi[i_t] ** 2 + (p[u_t] ** 2).sum(-1) + (q[i_t] ** 2).sum(-1)).mean()
            loss = ((pred - r_t) ** 2).mean() + c["l2"] * reg
            opt.zero_grad()
            loss.backward()
            opt.step()
            self._set(mu, p, q, bu, bi)
            score = -float(loss.detach()) if valid is None else -self._rmse(valid)
            if -score < best - 1e-6:
                best, best_epoch, bad = -score, epoch, 0
                best_state = [x.detach().clone() for x in params]
            else:
                bad += 1
                if bad >= c["patience"]:
                    break
        self._set(mu, *best_state)
        self.history_ = {"best_epoch": best_epoch, "best_valid_rmse": None if valid is None else round(best, 5),
                         "epochs_run": epoch + 1, "train_seconds": round(time.perf_counter() - t0, 2)}
        return self

    def _set(self, mu, p, q, bu, bi) -> None:
        self.mu_ = mu
        self.user_factors_, self.item_factors_ = p.detach().numpy().copy(), q.detach().numpy().copy()
        self.user_bias_, self.item_bias_ = bu.detach().numpy().copy(), bi.detach().numpy().copy()

    def _rmse(self, part: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
        u, i, r = part
        return float(np.sqrt(np.mean((self.predict(u, i) - r) ** 2)))

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``float32 [n]`` predicted ratings, clipped to the rating scale."""
        users, items, _ = _check(users, items)
        pred = (self.mu_ + self.user_bias_[users] + self.item_bias_[items]
                + (self.user_factors_[users] * self.item_factors_[items]).sum(-1))
        lo, hi = self.config["clip"]
        return np.clip(pred, lo, hi).astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``config.json`` and ``factors.npz`` (temp file, then rename)."""
        path = Path(path)
        _save_config(path, self.name, {**self.config, "mu": self.mu_})
        tmp = path / "factors.tmp.npz"
        np.savez(tmp, user_bias=self.user_bias_, item_bias=self.item_bias_, user_factors=self.user_factors_,
                 item_factors=self.item_factors_)
        os.replace(tmp, path / "factors.npz")
