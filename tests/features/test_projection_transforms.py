"""PCA, BERT-whitening, parametric whitening and truncation: values checkable by hand."""

import numpy as np
import pytest

from lmrec.features import PCA, ParametricWhitening, Truncate, Whitening


def test_pca_finds_the_direction_of_largest_variance():
    rng = np.random.default_rng(0)
    # variance 100 along (1, 1)/√2, variance 1 along (1, -1)/√2, mean (5, -5)
    z = rng.normal(size=(2000, 2)) * np.array([10.0, 1.0])
    rot = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    x = (z @ rot + np.array([5.0, -5.0])).astype(np.float32)
    pca = PCA(1).fit(x)
    assert abs(abs(pca.components_[0] @ np.array([1, 1]) / np.sqrt(2)) - 1) < 1e-3
    np.testing.assert_allclose(pca.mean_, [5, -5], atol=0.5)
    assert pca.explained_variance_ratio_[0] == pytest.approx(100 / 101, abs=0.01)
    assert pca.transform(x).shape == (2000, 1) and pca.bytes_per_item == 4.0
    with pytest.raises(ValueError, match="at least 3 training items"):
        PCA(3).fit(x[:2])


def test_whitening_gives_identity_covariance_on_training_items():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(5000, 6)) @ rng.normal(size=(6, 6)) + 2.0).astype(np.float32)
    y = Whitening().fit(x).transform(x)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(np.cov(y, rowvar=False), np.eye(6), atol=1e-2)
    w3 = Whitening(3).fit(x)
    y3 = w3.transform(x)
    assert y3.shape == (5000, 3) and w3.bytes_per_item == 12.0
    np.testing.assert_allclose(y3, y[:, :3], atol=1e-4)  # k dims = first k whitened directions


def test_parametric_whitening_starts_as_whitening_and_trains_as_a_module():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 8)).astype(np.float32) * 3 + 1
    pw = ParametricWhitening(4).fit(x)
    np.testing.assert_allclose(pw.transform(x), Whitening(4).fit(x).transform(x), atol=1e-5)
    layer = pw.as_module()
    out = layer(torch.from_numpy(x[:10]))
    np.testing.assert_allclose(out.detach().numpy(), pw.transform(x[:10]), atol=1e-5)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    loss = layer(torch.from_numpy(x)).pow(2).mean()
    loss.backward()
    opt.step()
    before = pw.transform(x[:10])
    pw.load_module(layer)
    np.testing.assert_allclose(pw.transform(x[:10]), layer(torch.from_numpy(x[:10])).detach().numpy(), atol=1e-5)
    assert not np.allclose(pw.transform(x[:10]), before)
    uni = ParametricWhitening(4, init="unisrec").fit(x)
    np.testing.assert_array_equal(uni.bias_, np.zeros(8))
    assert 0.01 < uni.weight_.std() < 0.03


def test_truncate_keeps_leading_dimensions_and_renormalises():
    x = np.array([[3.0, 4.0, 12.0], [0.0, 0.0, 1.0]], np.float32)
    t = Truncate(2).fit(x)
    np.testing.assert_allclose(t.transform(x), [[0.6, 0.8], [0.0, 0.0]])  # zero rows stay zero
    np.testing.assert_allclose(Truncate(2, renormalize=False).fit(x).transform(x), [[3, 4], [0, 0]])
    with pytest.raises(ValueError, match="to 4 dimensions"):
        Truncate(4).fit(x)
