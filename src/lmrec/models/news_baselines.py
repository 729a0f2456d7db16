"""Non-personalised and zero-training news baselines: popularity, random, text similarity, topic match."""

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
    ``reduce="max"``: score = max over history news of cos(candidate, clicked news);
    ``reduce="recency"``: score = cos(candidate, recency-weighted mean of the history vectors),
    the ``i``-th most recent click (``i = 0`` = last) weighted ``0.5 ** (i / half_life)`` (no
    attention, nothing learned). Empty history → all candidates score 0 (tied). Nothing is
    learned, so it tells whether the data carries a content signal at all.

    Parameters
    ----------
    encoder:
        Sentence encoder name/path (``None`` = default).
    reduce:
        ``"mean"``, ``"max"`` or ``"recency"``.
    fields:
        News text fields joined into the encoded text (e.g. ``["category", "subcategory",
        "title", "abstract"]``).
    half_life:
        Clicks after which a history click's weight halves (``reduce="recency"``), > 0.

    Raises
    ------
    ValueError
        Unknown ``reduce`` or a non-positive ``half_life``.
    """

    name = "text-sim"

    def __init__(self, encoder: str | None = None, reduce: str = "mean",
                 fields: tuple[str, ...] | list[str] = ("title",), half_life: float = 4.0) -> None:
        if reduce not in ("mean", "max", "recency"):
            raise ValueError(f"text-sim reduce must be 'mean', 'max' or 'recency', got {reduce!r}")
        if not half_life > 0:
            raise ValueError(f"text-sim half_life must be > 0 clicks, got {half_life}")
        super().__init__(encoder=encoder, reduce=reduce, fields=list(fields), half_life=half_life)
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
            if self.config["reduce"] in ("mean", "recency"):
                if self.config["reduce"] == "recency":
                    age = np.arange(len(h) - 1, -1, -1, dtype=np.float64)     # 0 = last click
                    w = 0.5 ** (age / self.config.get("half_life", 4.0))
                    u = (w[:, None] * hv).sum(axis=0)
                else:
                    u = hv.mean(axis=0)
                u = u / max(float(np.linalg.norm(u)), 1e-12)
                out.append((cv @ u).astype(np.float32))
            else:
                out.append((cv @ hv.T).max(axis=1).astype(np.float32))
        return out


class NewsTopicMatch(NewsModel):
    """Zero-training topic baselines computed from the user's history only (no click labels).

    For a candidate of category ``c`` and subcategory ``s``, with the user's ``H`` history
    clicks of which ``H_c`` share its category and ``H_s`` its subcategory:

    * ``mode="category"``: score = ``H_c / H`` (share of the history in the candidate's category);
    * ``mode="subcategory"``: score = ``H_s / H + H_c / H / 2`` (subcategory first, category as
      back-off);
    * ``mode="topicpop"``: TopicPop-style — the category share plus a small popularity
      tie-breaker, ``H_c / H + 1e-3 · log1p(pop(news))``, where ``pop`` counts how many
      histories of the scored log contain the candidate (clicks *before* the impressions, so no
      label is read). The published TopicPop ranks by click popularity inside the user's topics,
      counted on MIND's training impressions, which this zero-shot setting does not have.

    Empty history → every candidate scores 0 (tied; the tie-breaker still applies for
    ``topicpop``). Needs ``category``/``subcategory`` columns in the news table (MIND, RecPrompt).

    Parameters
    ----------
    mode:
        ``"category"``, ``"subcategory"`` or ``"topicpop"``.

    Raises
    ------
    ValueError
        Unknown ``mode``; news table without the needed column (at :meth:`score`).
    """

    name = "topic-match"

    def __init__(self, mode: str = "category") -> None:
        if mode not in ("category", "subcategory", "topicpop"):
            raise ValueError(f"topic-match mode must be 'category', 'subcategory' or 'topicpop', got {mode!r}")
        super().__init__(mode=mode)

    def fit(self, data: NewsDataset, log: Callable[[str], None] | None = None) -> "NewsTopicMatch":
        return self

    def score(self, data: NewsDataset) -> list[np.ndarray]:
        for col in ("category", "subcategory"):
            if col not in data.news.columns:
                raise ValueError(f"{data.name}: news table has no {col!r} column; topic-match needs "
                                 f"MIND-style categories")
        cat = data.news["category"].fillna("").to_dict()
        sub = data.news["subcategory"].fillna("").to_dict()
        mode = self.config["mode"]
        pop: Counter = Counter()
        if mode == "topicpop":
            for u, h in dict(zip(data.impressions.user_ids, data.impressions.histories)).items():
                pop.update(set(h))
        out = []
        for h, c in zip(data.impressions.histories, data.impressions.candidates):
            hc = Counter(cat.get(n, "") for n in h)
            hs = Counter(sub.get(n, "") for n in h)
            size = max(len(h), 1)
            share_c = np.array([hc[cat.get(n, "")] / size if cat.get(n, "") else 0.0 for n in c])
            if mode == "category":
                s = share_c
            elif mode == "subcategory":
                share_s = np.array([hs[sub.get(n, "")] / size if sub.get(n, "") else 0.0 for n in c])
                s = share_s + share_c / 2
            else:
                s = share_c + 1e-3 * np.log1p(np.array([pop[n] for n in c], dtype=np.float64))
            out.append(s.astype(np.float32))
        return out


class NewsSlotPosition(NewsModel):
    """Click rate per (slate size, slot) — a non-content baseline that shows position bias.

    Fitted on training impressions: for slates of ``n`` candidates, the rate of slot ``j``
    (0-based, the order given in the log) is ``(clicks + 1) / (shown + 2)`` (Laplace-smoothed);
    a slate size never seen in training falls back to the per-slot rate over all sizes (0.5
    for a slot never seen). It reads no text and no news id, so on data whose slates are
    shuffled or rebuilt (e.g. RecPrompt's MIND samples) it is at chance; on NeMig-en the slot
    is the strongest signal there is (an outside check: AUC 0.651).

    Raises
    ------
    ValueError
        In :meth:`fit`, on unlabeled impressions.
    """

    name = "slot-position"

    def __init__(self) -> None:
        super().__init__()
        self.rates_: dict[str, float] = {}

    def fit(self, data: NewsDataset, log: Callable[[str], None] | None = None) -> "NewsSlotPosition":
        imps = data.impressions
        if imps.labels is None:
            raise ValueError(f"{data.name}: slot-position needs labeled training impressions")
        clicks: Counter = Counter()
        shown: Counter = Counter()
        for y in imps.labels:
            for j, lab in enumerate(y):
                for key in (f"{len(y)}:{j}", f"*:{j}"):
                    shown[key] += 1
                    clicks[key] += int(lab)
        self.rates_ = {k: (clicks[k] + 1.0) / (n + 2.0) for k, n in shown.items()}
        self.fit_info_ = {"n_cells": len(self.rates_)}
        return self

    def score(self, data: NewsDataset) -> list[np.ndarray]:
        out = []
        for c in data.impressions.candidates:
            out.append(np.array([self.rates_.get(f"{len(c)}:{j}", self.rates_.get(f"*:{j}", 0.5))
                                 for j in range(len(c))], dtype=np.float32))
        return out

    def _save_weights(self, path: Path) -> None:
        from lmrec.evaluation.results import write_json_atomic

        write_json_atomic(path / "rates.json", self.rates_)

    def _load_weights(self, path: Path) -> None:
        import json

        self.rates_ = json.loads((path / "rates.json").read_text())
