"""Non-personalised news baselines: popularity and random ranking."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from lmrec.data.news import NewsDataset
from lmrec.models.news_base import NewsModel


class NewsPopularity(NewsModel):
    """Rank candidates by how often they were clicked in the training data.

    ``mode="clicks"``: score = clicks in training impressions + ``history_weight`` × clicks in
    training users' histories (both are clicks; histories count 1 by default). News never
    clicked in training score 0 (tied). ``mode="ctr"``: score = (impression clicks + 1) /
    (times shown in training impressions + 2) (Laplace-smoothed click-through rate; news never
    shown score 0.5). Only the data passed to :meth:`fit` (the training users) is counted, so
    nothing of the test users leaks. Not personalised.

    Parameters
    ----------
    history_weight:
        Weight of a history click relative to an impression click (``mode="clicks"``).
    mode:
        ``"clicks"`` or ``"ctr"``.
    """

    name = "pop"

    def __init__(self, history_weight: float = 1.0, mode: str = "clicks") -> None:
        if mode not in ("clicks", "ctr"):
            raise ValueError(f"popularity mode must be 'clicks' or 'ctr', got {mode!r}")
        super().__init__(history_weight=history_weight, mode=mode)
        self.counts_: dict[str, float] = {}

    def fit(self, data: NewsDataset, log: Callable[[str], None] | None = None) -> "NewsPopularity":
        imps = data.impressions
        if imps.labels is None:
            raise ValueError(f"{data.name}: popularity needs labeled training impressions")
        counts: Counter = Counter()
        for c, y in zip(imps.candidates, imps.labels):
            counts.update(n for n, lab in zip(c, y) if lab == 1)
        if self.config.get("mode", "clicks") == "ctr":
            shown: Counter = Counter()
            for c in imps.candidates:
                shown.update(c)
            self.default_ = 0.5
            self.counts_ = {n: (counts[n] + 1.0) / (k + 2.0) for n, k in shown.items()}
            self.fit_info_ = {"n_news_counted": len(shown)}
            return self
        seen_users: set[str] = set()
        for u, h in zip(imps.user_ids, imps.histories):
            if u in seen_users:      # a user's history repeats across impressions; count once
                continue
            seen_users.add(u)
            for n in h:
                counts[n] += self.config["history_weight"]
        self.counts_ = {n: float(v) for n, v in counts.items()}
        self.fit_info_ = {"n_news_counted": len(counts)}
        return self

    def score(self, data: NewsDataset) -> list[np.ndarray]:
        default = 0.5 if self.config.get("mode", "clicks") == "ctr" else 0.0
        return [np.array([self.counts_.get(n, default) for n in c], dtype=np.float32)
                for c in data.impressions.candidates]

    def _save_weights(self, path: Path) -> None:
        from lmrec.evaluation.results import write_json_atomic

        write_json_atomic(path / "counts.json", self.counts_)

    def _load_weights(self, path: Path) -> None:
        import json

        self.counts_ = json.loads((path / "counts.json").read_text())


class NewsRandom(NewsModel):
    """Uniform random scores from ``numpy.random.default_rng(seed)`` (the chance level:
    AUC ≈ 0.5)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed=seed)

    def fit(self, data: NewsDataset, log: Callable[[str], None] | None = None) -> "NewsRandom":
        return self

    def score(self, data: NewsDataset) -> list[np.ndarray]:
        rng = np.random.default_rng(self.config["seed"])
        return [rng.random(len(c)).astype(np.float32) for c in data.impressions.candidates]


class NewsTextSimilarity(NewsModel):
    """Zero-training text baseline: cosine between the candidate's sentence vector and the
    user's clicked news.

    News vectors come from a frozen sentence encoder (default the packaged all-MiniLM-L6-v2,
    via :func:`lmrec.encoders.load_encoder` and the on-disk embedding cache) over the title
    (``fields``). ``reduce="mean"``: score = cos(candidate, mean of the history vectors);
    ``reduce="max"``: score = max over history news of cos(candidate, clicked news). Empty
    history → all candidates score 0 (tied). Nothing is learned, so it tells whether the
    data carries a content signal at all.

    Parameters
    ----------
    encoder:
        Sentence encoder name/path (``None`` = default).
    reduce:
        ``"mean"`` or ``"max"``.
    fields:
        News text fields joined into the encoded text.
    """

    name = "text-sim"

    def __init__(self, encoder: str | None = None, reduce: str = "mean",
                 fields: tuple[str, ...] | list[str] = ("title",)) -> None:
        if reduce not in ("mean", "max"):
            raise ValueError(f"text-sim reduce must be 'mean' or 'max', got {reduce!r}")
        super().__init__(encoder=encoder, reduce=reduce, fields=list(fields))
        self._encoder = None
        self.vector_fn: Callable[[list[str], list[str]], np.ndarray] | None = None

    def fit(self, data: NewsDataset, log: Callable[[str], None] | None = None) -> "NewsTextSimilarity":
        return self

    def _vectors(self, data: NewsDataset, ids: list[str]) -> np.ndarray:
        """Unit-normalised float32 ``[len(ids), dim]`` vectors of the news texts."""
        texts = data.texts(ids, self.config["fields"])
        if self.vector_fn is not None:          # injected (tests, or a caller with its own vectors)
            vecs = np.asarray(self.vector_fn(ids, texts), dtype=np.float32)
        else:
            from lmrec.encoders import load_encoder
            from lmrec.encoders.cache import encode_cached

            if self._encoder is None:
                self._encoder = load_encoder(self.config["encoder"])
            vecs = encode_cached(self._encoder, texts)
        norm = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norm, 1e-12)

    def score(self, data: NewsDataset) -> list[np.ndarray]:
        ids = data.referenced_news()
        index = {n: i for i, n in enumerate(ids)}
        vecs = self._vectors(data, ids) if ids else np.zeros((0, 1), np.float32)
        out = []
        for h, c in zip(data.impressions.histories, data.impressions.candidates):
            cv = vecs[[index[n] for n in c]]
            if not h:
                out.append(np.zeros(len(c), dtype=np.float32))
                continue
            hv = vecs[[index[n] for n in h]]
            if self.config["reduce"] == "mean":
                u = hv.mean(axis=0)
                u = u / max(float(np.linalg.norm(u)), 1e-12)
                out.append((cv @ u).astype(np.float32))
            else:
                out.append((cv @ hv.T).max(axis=1).astype(np.float32))
        return out
