"""Evaluation: ranking metrics, the full-ranking / sampled protocols, slices, result files.

* :mod:`~lmrec.evaluation.metrics` — ``recall_at_k``, ``ndcg_at_k``, ``mrr_at_k``,
  ``hit_rate_at_k`` over 0-based ranks.
* :mod:`~lmrec.evaluation.ranking` — :func:`evaluate_ranking` (full ranking by default,
  pessimistic ties, history exclusion, slices) and :func:`history_length_slices`.
* :mod:`~lmrec.evaluation.transitions` — :func:`transition_slices`: cases whose (last history
  item → target) pair was seen in training vs not (where IDs memorise, where text must generalise).
* :mod:`~lmrec.evaluation.results` — ``metrics.json``, environment record, markdown tables.

Importing this package pulls in numpy only (no torch).
"""

from lmrec.evaluation.metrics import (
    UNREACHABLE,
    hit_rate_at_k,
    list_positions,
    mrr_at_k,
    ndcg_at_k,
    pad_ranks,
    recall_at_k,
)
from lmrec.evaluation.ranking import evaluate_ranking, history_length_slices
from lmrec.evaluation.results import (
    environment_info,
    format_table,
    write_json_atomic,
    write_metrics_json,
)
from lmrec.evaluation.transitions import transition_slices

__all__ = [
    "UNREACHABLE",
    "environment_info",
    "evaluate_ranking",
    "format_table",
    "history_length_slices",
    "hit_rate_at_k",
    "list_positions",
    "mrr_at_k",
    "ndcg_at_k",
    "pad_ranks",
    "recall_at_k",
    "transition_slices",
    "write_json_atomic",
    "write_metrics_json",
]
