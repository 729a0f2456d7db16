"""Paired comparison of two recommenders evaluated on the same cases.

Two models ranked for the same test cases give per-case metric vectors ``a`` and ``b``
(:func:`lmrec.evaluation.ranking.evaluate_ranking` with ``return_per_case=True``). Their
difference is judged by a bootstrap over cases of the mean of ``a - b`` (the cases are the
sampling unit, so the pairing is kept; Efron & Tibshirani 1993, ch. 13; Sakai, "Statistical
significance testing in information retrieval", 2014). Several seeds of the same model are
averaged per case first, so seed noise and case noise are both in the interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def paired_interval(a: np.ndarray, b: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000,
                    seed: int = 0) -> dict[str, Any]:
    """Bootstrap interval of ``mean(a) - mean(b)`` over paired cases.

    Parameters
    ----------
    a, b:
        ``float [n_cases]`` per-case metric of the two models on the same cases in the same
        order, or ``float [n_seeds, n_cases]`` (rows averaged per case first).
    confidence:
        Two-sided level of the percentile interval (``0 < confidence < 1``).
    n_resamples, seed:
        Bootstrap resamples (cases drawn with replacement) and the seed of that resampling.

    Returns
    -------
    dict
        ``{"diff": mean(a) - mean(b), "low", "high", "relative": diff / mean(b) (None when
        mean(b) is 0), "excludes_zero": bool, "n_cases", "confidence", "n_resamples"}``.

    Raises
    ------
    ValueError
        When the shapes differ, there are fewer than 2 cases, or a value is not finite.
    """
    from scipy.stats import bootstrap

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a.mean(axis=0) if a.ndim == 2 else a
    b = b.mean(axis=0) if b.ndim == 2 else b
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_interval needs per-case vectors of the same cases; got shapes {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"paired_interval needs at least 2 cases, got {len(a)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("paired_interval: per-case metrics contain NaN or inf")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    d = a - b
    if np.ptp(d) == 0:  # identical differences everywhere: the interval is the point
        low = high = float(d[0])
    else:
        res = bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                        vectorized=True, batch=max(1, min(n_resamples, 20_000_000 // max(1, len(d)))),
                        random_state=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    base = float(b.mean())
    diff = float(d.mean())
    return {"diff": diff, "low": low, "high": high, "relative": diff / base if base else None,
            "excludes_zero": bool(low > 0 or high < 0), "n_cases": int(len(d)), "confidence": confidence,
            "n_resamples": int(n_resamples)}
