"""Training examples for sequential models: windows of a user's train sequence.

A train sequence ``s`` of length ``n`` is cut, from its end, into non-overlapping windows of
at most ``max_len + 1`` items; each window trains next-item prediction at every position
(input ``w[:-1]``, targets ``w[1:]``). For sequences of at most ``max_len + 1`` items this is
exactly the set of (prefix → next item) pairs that RecBole's prefix augmentation produces.
"""

from __future__ import annotations

import numpy as np


def training_windows(train: list[np.ndarray], max_len: int) -> list[np.ndarray]:
    """Windows (``int64`` arrays of length 2 … ``max_len + 1``) over all users' sequences."""
    out = []
    for s in train:
        n = len(s)
        end = n
        while end >= 2:
            out.append(np.asarray(s[max(0, end - max_len - 1):end], dtype=np.int64))
            end -= max_len
    return out


def training_prefixes(train: list[np.ndarray], max_len: int) -> list[np.ndarray]:
    """RecBole's prefix augmentation: for every position ``t ≥ 1`` of every train sequence, the
    window ``s[max(0, t - max_len) : t + 1]`` (history of at most ``max_len`` items + its next
    item); trained at its last position only."""
    out = []
    for s in train:
        s = np.asarray(s, dtype=np.int64)
        for t in range(1, len(s)):
            out.append(s[max(0, t - max_len):t + 1])
    return out


def left_pad(seqs: list[np.ndarray], max_len: int, shift: int = 1) -> np.ndarray:
    """Right-align the last ``max_len`` items of each sequence into an ``int64 [b, L]`` array.

    Item ``i`` is written as ``i + shift`` so that ``0`` is the padding token; ``L`` is the
    longest (truncated) sequence in the batch, at least 1.
    """
    seqs = [s[-max_len:] for s in seqs]
    width = max(1, max((len(s) for s in seqs), default=1))
    out = np.zeros((len(seqs), width), dtype=np.int64)
    for r, s in enumerate(seqs):
        if len(s):
            out[r, width - len(s):] = np.asarray(s, dtype=np.int64) + shift
    return out


def left_aligned(seqs: list[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """``int64 [b, L]`` left-aligned last ``max_len`` items (padding ``-1``) and ``int64 [b]`` lengths."""
    seqs = [np.asarray(s[-max_len:], dtype=np.int64) for s in seqs]
    width = max(1, max((len(s) for s in seqs), default=1))
    out = np.full((len(seqs), width), -1, dtype=np.int64)
    for r, s in enumerate(seqs):
        out[r, :len(s)] = s
    return out, np.array([len(s) for s in seqs], dtype=np.int64)
