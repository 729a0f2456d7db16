"""Published numbers on the Amazon Scientific files of UniSRec (RecBole full sort, history kept),
one list for every benchmark script that prints them beside our rows.

Each entry: ``key`` (stable short name), ``model``, ``source`` (paper and table) and ``metrics``
(lowercase ``recall@K`` / ``ndcg@K``). Scripts pick entries by key with :func:`pick`, so a
number is typed once.
"""
from __future__ import annotations

SCIENTIFIC: list[dict] = [
    {"key": "sasrec", "model": "SASRec (ID)", "source": "UniSRec (Hou et al., KDD 2022) Table 2",
     "metrics": {"recall@10": 0.1080, "ndcg@10": 0.0553}},
    {"key": "unisrec-inductive", "model": "UniSRec (text only, inductive)", "source": "UniSRec Table 2",
     "metrics": {"recall@10": 0.1188, "ndcg@10": 0.0641, "recall@50": 0.2394, "ndcg@50": 0.0903}},
    {"key": "unisrec-transductive", "model": "UniSRec (text + ID, transductive)", "source": "UniSRec Table 2",
     "metrics": {"recall@10": 0.1235, "ndcg@10": 0.0634, "recall@50": 0.2473, "ndcg@50": 0.0904}},
    {"key": "vqrec", "model": "VQ-Rec", "source": "VQ-Rec (Hou et al., WWW 2023) Table 2",
     "metrics": {"recall@10": 0.1211, "ndcg@10": 0.0643}},
    {"key": "missrec-no-id", "model": "MISSRec (no IDs)", "source": "MISSRec (Wang et al., MM 2023) Table 2",
     "metrics": {"recall@10": 0.1278, "ndcg@10": 0.0658}},
    {"key": "zesrec-zero-shot", "model": "ZESRec (zero-shot)", "source": "VQ-Rec Table 3",
     "metrics": {"recall@10": 0.0851, "ndcg@10": 0.0475}},
    {"key": "vqrec-zero-shot", "model": "VQ-Rec zero-shot (no target fine-tuning)", "source": "VQ-Rec Table 3",
     "metrics": {"recall@10": 0.0640, "ndcg@10": 0.0361}},
    {"key": "sasrec-bert-text", "model": "SASRec on frozen BERT text", "source": "VQ-Rec Table 2",
     "metrics": {"recall@10": 0.0994, "ndcg@10": 0.0561}},
]


def pick(*keys: str, flat: bool = False, **extra) -> list[dict]:
    """The entries of :data:`SCIENTIFIC` named by ``keys``, in that order.

    ``flat=True`` lifts the metrics to top-level keys (``{"model", "source", "recall@10", …}``);
    ``extra`` key/values are added to every entry (e.g. ``dataset=...``).

    Raises
    ------
    KeyError
        If a key is not in :data:`SCIENTIFIC` (the message lists the known keys).
    """
    by_key = {e["key"]: e for e in SCIENTIFIC}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise KeyError(f"unknown published reference(s) {unknown}; known: {sorted(by_key)}")
    out = []
    for k in keys:
        e = by_key[k]
        row = {**extra, "model": e["model"], "source": e["source"]}
        row.update(e["metrics"] if flat else {"metrics": dict(e["metrics"])})
        out.append(row)
    return out
