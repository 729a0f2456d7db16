import numpy as np

from lmrec.training.early_stopping import EarlyStopping
from lmrec.training.sequences import left_pad, training_prefixes, training_windows


def test_windows_cover_every_next_item_pair_once():
    seq = np.arange(12)
    wins = training_windows([seq, np.array([5]), np.array([], dtype=np.int64)], max_len=5)
    pairs = [(w[i], w[i + 1]) for w in wins for i in range(len(w) - 1)]
    assert sorted(pairs) == [(i, i + 1) for i in range(11)]
    assert all(len(w) <= 6 for w in wins)


def test_left_pad_right_aligns_and_truncates():
    out = left_pad([np.array([0, 1, 2, 3]), np.array([7])], max_len=3)
    assert out.tolist() == [[2, 3, 4], [0, 0, 8]]


def test_early_stopping_keeps_best_state():
    es = EarlyStopping(patience=2)
    assert es.step(0.1, 0, {"w": 1})
    assert es.step(0.3, 1, {"w": 2})
    assert not es.step(0.2, 2, {"w": 3})
    assert not es.should_stop
    es.step(0.25, 3, {"w": 4})
    assert es.should_stop and es.best_epoch == 1 and es.best_state == {"w": 2}


def test_length_bucketed_batches_cover_each_window_once_with_similar_lengths():
    from lmrec.training.trainer import length_bucketed_batches

    lengths = np.array([2, 50, 3, 49, 2, 51, 3, 48])
    batches = length_bucketed_batches(lengths, 2, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(8))
    assert all(np.ptp(lengths[b]) <= 2 for b in batches)


def test_prefixes_are_recbole_augmentation_truncated_to_max_len():
    seq = np.arange(8)
    pre = training_prefixes([seq, np.array([5])], max_len=3)
    assert [(list(p[:-1]), int(p[-1])) for p in pre][:3] == [([0], 1), ([0, 1], 2), ([0, 1, 2], 3)]
    assert [list(p) for p in pre][-1] == [4, 5, 6, 7]  # history cut to the last max_len items
    assert sorted(int(p[-1]) for p in pre) == list(range(1, 8))  # one example per next item


def test_auto_train_target_uses_prefixes_for_short_sequences_only():
    from lmrec.training.trainer import resolve_train_target

    short = [np.arange(6)] * 10
    long = [np.arange(120)] * 10
    assert resolve_train_target("auto", short, max_len=50) == "last"
    assert resolve_train_target("auto", long, max_len=50) == "all-positions"
    assert resolve_train_target("auto", long, max_len=10) == "last"  # cut to max_len first
    assert resolve_train_target("all-positions", short, max_len=50) == "all-positions"
