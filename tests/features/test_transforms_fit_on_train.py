"""Every transform: fitted on training items only, new items never change training vectors,
save/load round trip, corrupted files detected."""

import numpy as np
import pytest

from lmrec.features import ArtifactCorruptError, create_transform, load_transform

# method, kwargs of create_transform (16-d inputs)
CASES = [("pca", {"dim": 4}), ("whiten", {"dim": 6}), ("whiten", {}), ("param-whiten", {"dim": 5}),
         ("truncate", {"dim": 8}), ("int8", {}), ("fp16", {}), ("pq", {"n_bytes": 4}),
         ("pq", {"n_bytes": 4, "opq": False})]


def _train_new(seed=0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(16, 16))
    train = (rng.normal(size=(300, 16)) @ mix + 3.0).astype(np.float32)
    new = (rng.normal(size=(40, 16)) @ mix * 5.0 - 2.0).astype(np.float32)  # other distribution
    return train, new


def _state(t):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(t).items() if k.endswith("_")
            and k != "codec_"}


@pytest.mark.parametrize("method,kwargs", CASES)
def test_new_items_do_not_change_training_vectors(method, kwargs):
    train, new = _train_new()
    t = create_transform(method, **kwargs).fit(train)
    before = t.transform(train)
    state = _state(t)
    codes_before = t.encode(train) if method == "pq" else None
    both = t.transform(np.vstack([train, new]))
    np.testing.assert_array_equal(both[: len(train)], before)
    assert both.shape == (340, t.dim_out) and both.dtype == np.float32
    for k, v in state.items():  # transforming new items refits nothing
        np.testing.assert_array_equal(getattr(t, k), v)
    if method == "pq":
        np.testing.assert_array_equal(t.encode(train), codes_before)
    # fitting on train + new items would give other training vectors (the check above can fail)
    if method not in ("truncate", "fp16"):
        refit = create_transform(method, **kwargs).fit(np.vstack([train, new])).transform(train)
        assert not np.allclose(refit, before)


@pytest.mark.parametrize("method,kwargs", CASES)
def test_save_load_round_trip(method, kwargs, tmp_path):
    train, new = _train_new()
    t = create_transform(method, **kwargs).fit(train)
    t.save(tmp_path / "t")
    again = load_transform(tmp_path / "t")
    assert type(again) is type(t) and again.params == t.params
    assert again.bytes_per_item == t.bytes_per_item
    np.testing.assert_array_equal(again.encode(new), t.encode(new))
    np.testing.assert_array_equal(again.transform(new), t.transform(new))


def test_corrupted_transform_file_is_named(tmp_path):
    train, _ = _train_new()
    create_transform("pca", dim=4).fit(train).save(tmp_path / "t")
    f = tmp_path / "t" / "components_.npy"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(ArtifactCorruptError, match="components_.npy is corrupt"):
        load_transform(tmp_path / "t")


def test_wrong_input_is_refused():
    train, _ = _train_new()
    t = create_transform("pca", dim=4)
    with pytest.raises(ValueError, match="not fitted"):
        t.transform(train)
    t.fit(train)
    with pytest.raises(ValueError, match="dimension 15"):
        t.transform(train[:, :15])
    bad = train.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        create_transform("whiten").fit(bad)
    with pytest.raises(ValueError, match="unknown compression method"):
        create_transform("lsh")
    with pytest.raises(ValueError, match="needs --dim"):
        create_transform("pca")
    with pytest.raises(ValueError, match="--bytes applies to pq only"):
        create_transform("pca", dim=4, n_bytes=8)
