"""Several domains in one training set: one shared item-text space, per-domain id maps.

Multi-domain pre-training (UniSRec, Hou et al., KDD 2022, Sec. 3.2; ZESRec, Ding et al. 2021)
needs the sequences of several domains side by side. A :class:`MultiDomainDataset` is built from
any :class:`~lmrec.data.dataset.RecDataset` objects (a dataset whose interactions carry several
``domain`` values, like the Food × Kitchen set, is cut into one domain per value):

* every domain keeps its own :class:`~lmrec.data.idmap.IdMap` of the items its kept sequences
  use (``local`` indices ``0..n_d-1``), so ids from different sources never collide;
* all items live in one global text table (``global = offset_d + local``) — the shared item-text
  space the encoder maps into one vector space;
* training sequences are the *training part* of each source's split (``make_split(ds, "auto")``),
  so a source's own valid/test items are never used; :meth:`MultiDomainDataset.mixed_batches`
  shuffles windows of all domains together (in-batch negatives then come from several domains).

:func:`check_domain_overlap` refuses a source/target pair that shares items (ids or normalised
titles) — e.g. ``amazon-lcrec/Scientific`` vs ``amazon-unisrec-scientific`` are the same products —
and returns what it checked. Items without text whose source has review text (Amazon
Appliances) get their text from their reviews (:func:`review_text_fallback`).
:func:`hold_out_source_users` removes a seeded set of users per domain from pre-training and
turns them into leave-one-out validation cases (model selection on source data only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.evalset import EvalSet
from lmrec.data.idmap import IdMap
from lmrec.data.text import TextTemplate, is_missing, is_placeholder, render_value

REVIEW_FIELD = "review_text_summary"
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


class DomainOverlapError(ValueError):
    """Source and target domains share items; ``report`` holds what was checked."""

    def __init__(self, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------------------------- text
def review_text_fallback(dataset: RecDataset, max_reviews: int = 3, max_chars: int = 600) -> RecDataset:
    """A copy of ``dataset`` where items with empty text get text from their reviews.

    The text is the ``summary`` and ``review_text`` of the item's first ``max_reviews``
    interactions (file order), cut to ``max_chars`` characters, in a new item field
    :data:`REVIEW_FIELD` appended to ``text_fields``. Datasets without review columns, or
    whose items all have text, are returned unchanged. Meant for *source* domains (e.g. Amazon
    Appliances, which has no metadata); a target's reviews may contain test interactions.
    """
    inter = dataset.interactions
    cols = [c for c in ("summary", "review_text") if c in inter.columns]
    if not cols:
        return dataset
    template = TextTemplate(tuple(dataset.text_fields))
    texts = template.render_items(dataset.items, list(dataset.items.index))
    empty = {i for i, t in zip(dataset.items.index, texts) if not t}
    if not empty:
        return dataset
    reviews: dict[str, list[str]] = {}
    for row in inter[inter["item_id"].isin(empty)][["item_id", *cols]].itertuples(index=False):
        got = reviews.setdefault(row[0], [])
        if len(got) < max_reviews:
            got.append(". ".join(t for t in map(render_value, row[1:]) if t))
    items = dataset.items.copy()
    items[REVIEW_FIELD] = [(" ".join(reviews.get(i, []))[:max_chars] or None) if i in empty else None
                           for i in items.index]
    return RecDataset(name=dataset.name, interactions=inter, items=items,
                      text_fields=[*dataset.text_fields, REVIEW_FIELD], ordered=dataset.ordered,
                      notes=[*dataset.notes, f"{len(empty)} items without text use their first {max_reviews} "
                                             "reviews as text"],
                      source=dataset.source, users=dataset.users)


def normalise_title(text: Any) -> str:
    """Lower-case ASCII words of a cleaned title (HTML decoded, punctuation removed); ``""`` if missing
    or a placeholder (``"unknown"``, ``"n/a"`` … never make two items "the same")."""
    if is_missing(text):
        return ""
    rendered = render_value(text)
    if is_placeholder(rendered):
        return ""
    return " ".join(_NON_ALNUM.sub(" ", rendered.lower()).split())


def item_titles(dataset: RecDataset) -> pd.Series:
    """Normalised title per item id: the ``title`` field, else the first text field."""
    col = "title" if "title" in dataset.items.columns else (dataset.text_fields[0] if dataset.text_fields else None)
    if col is None:
        return pd.Series([""] * len(dataset.items), index=dataset.items.index)
    return dataset.items[col].map(normalise_title)


def _prefix_match(title: str, reference: set[str], min_words: int, max_words: int = 40) -> bool:
    """``title`` equals a reference title or starts with one (word boundary, ≥ ``min_words``)."""
    if not title:
        return False
    if title in reference:
        return True
    words = title.split()
    return any(" ".join(words[:n]) in reference for n in range(min(len(words) - 1, max_words), min_words - 1, -1))


def shared_items(source: RecDataset, target: RecDataset, *, min_words: int = 3) -> tuple[set[str], set[str]]:
    """Items of ``source`` that are also items of ``target``.

    Two items are the same when their ids are equal (Amazon ASINs are global) or their
    normalised titles (:func:`normalise_title`) are equal or one is a word-prefix of the other
    with at least ``min_words`` words (the UniSRec files write ``title + categories + brand`` as
    one text, LC-Rec the bare title).

    Returns
    -------
    (source item ids shared by id, source item ids shared by title) — sets of external ids.
    """
    tgt_titles = item_titles(target)
    tgt_ids = set(target.items.index) | set(target.interactions["item_id"].unique())
    tgt_set = {t for t in tgt_titles if t}
    src_titles = item_titles(source)
    src_ids = set(source.items.index) | set(source.interactions["item_id"].unique())
    tgt_prefixes = {" ".join(w[:n]) for w in (t.split() for t in tgt_set) for n in range(min_words, len(w) + 1)}
    by_title = {i for i, t in src_titles.items()
                if t and (t in tgt_prefixes or _prefix_match(t, tgt_set, min_words))}
    return tgt_ids & src_ids, by_title


def check_domain_overlap(sources: list[RecDataset], target: RecDataset, *, max_share: float = 0.01,
                         min_words: int = 3) -> dict[str, Any]:
    """Refuse sources that overlap the target; report what was checked, per source.

    Every item of every source is compared with every target item (:func:`shared_items`).
    A source sharing more than ``max_share`` of the target's items is the same domain under
    another processing (e.g. ``amazon-lcrec/Scientific`` vs ``amazon-unisrec-scientific``,
    ≈ 98 %) and is refused. Below that (different Amazon categories list a handful of the same
    products: Home & Kitchen shares < 1 % with Industrial & Scientific), the shared items are
    returned so the caller removes them from the source sequences
    (``MultiDomainDataset.from_datasets(..., exclude_items=…)``).

    Returns
    -------
    dict
        ``{"target", "n_target_items", "method", "max_share", "sources": [{"dataset",
        "n_items", "shared_ids", "shared_titles", "share", "examples", "excluded_item_ids"}]}``
        (``excluded_item_ids``: sorted source ids to drop).

    Raises
    ------
    DomainOverlapError
        (a ``ValueError``) naming each refused source with counts and examples; its ``report``
        attribute is the dict above.
    """
    tgt_ids = set(target.items.index) | set(target.interactions["item_id"].unique())
    report: dict[str, Any] = {"target": target.name, "n_target_items": len(tgt_ids),
                              "method": f"equal item ids, or equal normalised titles / word-prefix titles "
                                        f"(≥ {min_words} words)",
                              "max_share": max_share, "sources": []}
    bad = []
    for src in sources:
        by_id, by_title = shared_items(src, target, min_words=min_words)
        union = sorted(by_id | by_title)
        share = len(union) / max(1, len(tgt_ids))
        src_titles = item_titles(src)
        entry = {"dataset": src.name, "n_items": int(src.items.shape[0]), "shared_ids": len(by_id),
                 "shared_titles": len(by_title), "share": round(share, 6),
                 "examples": [f"{i}: {str(src_titles.get(i, ''))[:70]}" for i in union[:3]],
                 "excluded_item_ids": union}
        report["sources"].append(entry)
        if share > max_share:
            bad.append(entry)
    if bad:
        desc = "; ".join(f"{e['dataset']}: {e['shared_ids']} shared ids, {e['shared_titles']} shared titles "
                         f"({e['share']:.1%} of target items, e.g. {e['examples'][:1]})" for e in bad)
        raise DomainOverlapError(
            f"source domain(s) overlap the target {target.name!r}: {desc}. A domain that shares products "
            f"with the target is not an unseen domain — drop it from the sources (tolerated share, whose "
            f"items are then removed from the source: {max_share:.1%})", report)
    return report


# ---------------------------------------------------------------------------------- dataset
@dataclass
class Domain:
    """One domain of a :class:`MultiDomainDataset`.

    Attributes
    ----------
    name:
        ``"<dataset>"`` or ``"<dataset>:<domain value>"``.
    item_map:
        Local item index ↔ external item id of this domain.
    texts:
        ``n_items`` item texts (local order); ``""`` when empty.
    train:
        Chronological ``int64`` local item-index arrays, one per kept user (length ≥ 2).
    offset:
        First global index of this domain's items.
    """

    name: str
    item_map: IdMap
    texts: list[str]
    train: list[np.ndarray]
    offset: int = 0

    @property
    def n_items(self) -> int:
        return len(self.item_map)


@dataclass
class MultiDomainDataset:
    """Domains with a shared item-text space (see module docstring).

    Attributes
    ----------
    domains:
        The :class:`Domain` objects; global item ``offset_d + j`` is local item ``j`` of domain ``d``.
    report:
        JSON-serialisable facts (per-domain users/items/interactions, sampling).
    """

    domains: list[Domain]
    report: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_datasets(cls, datasets: list[RecDataset], *, split_by_domain: bool = True,
                      max_users_per_domain: int | None = None, seed: int = 0,
                      min_seq_len: int = 2, exclude_items: dict[str, set[str]] | None = None
                      ) -> "MultiDomainDataset":
        """Build from datasets (each cut by its ``domain`` column when ``split_by_domain``).

        Parameters
        ----------
        datasets:
            Source datasets; each contributes the training part of ``make_split(ds, "auto")``.
        max_users_per_domain:
            Keep at most this many users per domain (seeded sample), to bound pre-training and
            encoding cost; ``None`` keeps all.
        min_seq_len:
            Drop sequences shorter than this (a sequence must predict at least one item).
        exclude_items:
            ``{dataset name: external item ids}`` removed from that dataset's sequences before
            anything else (the target-shared items found by :func:`check_domain_overlap`).

        Raises
        ------
        ValueError
            If no domain keeps a sequence, or two domains have the same name.
        """
        from lmrec.data.splits import make_split

        rng = np.random.default_rng(seed)
        domains: list[Domain] = []
        n_excluded = 0
        for ds in datasets:
            ds = review_text_fallback(ds)
            split = make_split(ds, "auto", seed=seed)
            ids = ds.item_map.ids
            item_domain = ds.interactions.drop_duplicates("item_id").set_index("item_id")["domain"]
            values = sorted(ds.interactions["domain"].unique()) if split_by_domain else [None]
            dom_of_index = np.array([str(item_domain.get(i, "")) for i in ids]) if values != [None] else None
            template = TextTemplate(tuple(ds.text_fields))
            drop = (exclude_items or {}).get(ds.name, set())
            allowed = np.array([i not in drop for i in ids], dtype=bool)
            train = [s[allowed[s]] for s in split.train]
            n_excluded += int(sum(len(a) - len(b) for a, b in zip(split.train, train)))
            for value in values:
                seqs = [s if value is None else s[dom_of_index[s] == value] for s in train]
                seqs = [s for s in seqs if len(s) >= min_seq_len]
                if max_users_per_domain and len(seqs) > max_users_per_domain:
                    keep = np.sort(rng.choice(len(seqs), size=max_users_per_domain, replace=False))
                    seqs = [seqs[i] for i in keep]
                if not seqs:
                    continue
                used = np.unique(np.concatenate(seqs))
                remap = np.full(ds.n_items, -1, dtype=np.int64)
                remap[used] = np.arange(len(used))
                name = ds.name if value is None or len(values) == 1 else f"{ds.name}:{value}"
                item_map = IdMap([ids[i] for i in used])
                texts = template.render_items(ds.items, item_map.ids)
                domains.append(Domain(name, item_map, texts, [remap[s] for s in seqs]))
        if not domains:
            raise ValueError("no domain has a training sequence of ≥ 2 items")
        names = [d.name for d in domains]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate domain names {names}; pass each dataset once")
        offset = 0
        for d in domains:
            d.offset = offset
            offset += d.n_items
        report = {"max_users_per_domain": max_users_per_domain, "seed": seed,
                  "n_interactions_excluded": n_excluded,
                  "sequences": "training part of each source's own split (make_split 'auto')",
                  "domains": [{"name": d.name, "n_users": len(d.train), "n_items": d.n_items,
                               "n_interactions": int(sum(len(s) for s in d.train)),
                               "n_empty_text": int(sum(1 for t in d.texts if not t))} for d in domains]}
        return cls(domains, report)

    # ----------------------------------------------------------------- global views
    @property
    def n_items(self) -> int:
        """Items over all domains (rows of the shared text table)."""
        return sum(d.n_items for d in self.domains)

    @property
    def texts(self) -> list[str]:
        """``n_items`` texts in global order."""
        return [t for d in self.domains for t in d.texts]

    def item_domain(self) -> np.ndarray:
        """``int64 [n_items]`` domain number of every global item."""
        return np.concatenate([np.full(d.n_items, k, dtype=np.int64) for k, d in enumerate(self.domains)])

    def sequences(self) -> tuple[list[np.ndarray], np.ndarray]:
        """All training sequences in global indices and their domain numbers (``int64 [n_seqs]``)."""
        seqs, dom = [], []
        for k, d in enumerate(self.domains):
            seqs += [s + d.offset for s in d.train]
            dom += [k] * len(d.train)
        return seqs, np.asarray(dom, dtype=np.int64)

    def mixed_batches(self, windows: list[np.ndarray], batch_size: int, rng: np.random.Generator
                      ) -> Iterator[np.ndarray]:
        """Index batches over ``windows`` in random order: every batch mixes domains.

        Yields ``int64 [≤ batch_size]`` arrays of window numbers; each window once per pass.
        """
        order = rng.permutation(len(windows))
        for i in range(0, len(order), batch_size):
            yield order[i:i + batch_size]

    # ----------------------------------------------------------------- texts for the encoder
    def word_drop_texts(self, n_variants: int = 1, p: float = 0.15, seed: int = 0) -> list[list[str]]:
        """``n_variants`` word-dropped copies of :attr:`texts` (each ``n_items`` strings).

        Variant ``v`` drops every word of every text independently with probability ``p``
        (generator seeded with ``[seed, v]``; at least one word kept) — UniSRec's word-drop
        augmentation. Encoding them is the caller's job
        (:func:`lmrec.transfer.encode_word_drop`), so the data layer loads no language model.

        Raises
        ------
        ValueError
            If ``p`` is not in ``[0, 1)``.
        """
        return [word_drop(self.texts, p, np.random.default_rng([seed, v])) for v in range(n_variants)]

    def describe(self) -> dict[str, Any]:
        return dict(self.report, n_items=self.n_items)


def word_drop(texts: list[str], p: float, rng: np.random.Generator) -> list[str]:
    """Drop each whitespace word with probability ``p`` (at least one word kept per text).

    >>> word_drop(["a b c"], 0.0, np.random.default_rng(0))
    ['a b c']
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"word-drop probability must be in [0, 1), got {p}")
    out = []
    for t in texts:
        words = t.split()
        if len(words) <= 1:
            out.append(t)
            continue
        keep = rng.random(len(words)) >= p
        if not keep.any():
            keep[rng.integers(len(words))] = True
        out.append(" ".join(w for w, k in zip(words, keep) if k))
    return out


# ---------------------------------------------------------------------------------- held-out source users
@dataclass
class SourceHoldout:
    """Training sequences of a :class:`MultiDomainDataset` minus a seeded set of held-out users.

    Made by :func:`hold_out_source_users`; used by both UniSRec and ZESRec pre-training for
    validation and early stopping, so the two models select on the same cases.

    Attributes
    ----------
    train:
        Sequences of the users *not* held out, ``int64`` **global** item indices (the
        pre-training data; a held-out user contributes nothing to it).
    train_domain:
        ``int64 [len(train)]`` domain number of each training sequence.
    valid:
        One :class:`~lmrec.data.evalset.EvalSet` per domain (``len(domains)``, possibly empty):
        history = the held-out user's sequence without its last item, target = its last item,
        both in the domain's **local** item indices (``0..n_d-1``); ``users`` are the
        positions of the held-out users in ``Domain.train``.
    domains:
        ``[(name, offset, n_items)]`` per domain, so a scorer can take the domain's rows of
        the global text table (``offset:offset + n_items``) — full ranking within the target's
        own domain, history items kept (RecBole's full sort).
    report:
        ``{"seed", "n_users_per_domain", "max_share", "min_len", "n_valid": {name: n},
        "n_train_sequences"}``.
    """

    train: list[np.ndarray]
    train_domain: np.ndarray
    valid: list[EvalSet]
    domains: list[tuple[str, int, int]]
    report: dict[str, Any]

    @property
    def n_valid(self) -> int:
        """Held-out users over all domains."""
        return sum(len(v) for v in self.valid)


def hold_out_source_users(md: MultiDomainDataset, n_users: int = 500, *, seed: int = 0, max_share: float = 0.1,
                          min_len: int = 3) -> SourceHoldout:
    """Remove a seeded set of users per source domain from pre-training, for validation.

    In every domain, ``min(n_users, floor(max_share · n_domain_users))`` users are drawn
    without replacement (``numpy.random.default_rng([seed, 7, domain number])``) among those
    whose sequence has at least ``min_len`` items; each one's last item is predicted from the
    rest (leave-one-out on the *source* training parts, never on a target). The same ``md``
    and ``seed`` always give the same split, whatever the model.

    Parameters
    ----------
    md:
        The source domains.
    n_users:
        Held-out users per domain before the cap (``0``: no validation, every user trains).
    seed:
        The run's seed.
    max_share:
        Cap on the held-out share of a domain's users, in ``[0, 1)``.
    min_len:
        Shortest eligible sequence (``≥ 2``; 3 leaves every held-out case a history of ≥ 2 items).

    Returns
    -------
    :class:`SourceHoldout`.

    Raises
    ------
    ValueError
        If ``n_users < 0``, ``max_share`` is not in ``[0, 1)`` or ``min_len < 2``.
    """
    if n_users < 0:
        raise ValueError(f"held-out users per domain must be ≥ 0, got {n_users}")
    if not 0.0 <= max_share < 1.0:
        raise ValueError(f"max_share of held-out users must be in [0, 1), got {max_share}")
    if min_len < 2:
        raise ValueError(f"held-out sequences need ≥ 2 items (history + target), got min_len={min_len}")
    train: list[np.ndarray] = []
    train_domain: list[int] = []
    valid: list[EvalSet] = []
    n_valid: dict[str, int] = {}
    for k, d in enumerate(md.domains):
        eligible = np.flatnonzero([len(s) >= min_len for s in d.train])
        n = min(n_users, int(max_share * len(d.train) + 1e-9), len(eligible))
        picked = np.sort(np.random.default_rng([seed, 7, k]).choice(eligible, size=n, replace=False)) \
            if n else np.zeros(0, dtype=np.int64)
        held = set(picked.tolist())
        for u, s in enumerate(d.train):
            if u not in held:
                train.append(np.asarray(s, dtype=np.int64) + d.offset)
                train_domain.append(k)
        valid.append(EvalSet(picked.astype(np.int64), [np.asarray(d.train[u][:-1], dtype=np.int64) for u in picked],
                             [np.asarray(d.train[u][-1:], dtype=np.int64) for u in picked]))
        n_valid[d.name] = int(n)
    report = {"seed": int(seed), "n_users_per_domain": int(n_users), "max_share": max_share, "min_len": int(min_len),
              "n_valid": n_valid, "n_train_sequences": len(train),
              "protocol": "held-out source users: last item from the rest, full ranking within its own domain, "
                          "history kept"}
    return SourceHoldout(train, np.asarray(train_domain, dtype=np.int64), valid,
                         [(d.name, d.offset, d.n_items) for d in md.domains], report)
