"""``lmrec transfer-report`` end to end on two tiny generic datasets and a random tiny BERT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


def _write_folder(root: Path, name: str, titles: list[str], n_users: int = 12, seed: int = 0) -> None:
    """A generic CSV dataset ``root/name``: users walk the item list in order."""
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = [{"user_id": f"u{u}", "item_id": f"{name}{(s + t) % len(titles)}", "timestamp": 100 + t}
            for u in range(n_users) for s in [int(rng.integers(len(titles)))] for t in range(5)]
    pd.DataFrame(rows).to_csv(folder / "events.csv", index=False)
    pd.DataFrame({"item_id": [f"{name}{i}" for i in range(len(titles))], "title": titles}).to_csv(
        folder / "items.csv", index=False)
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.csv",
        "columns": {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp"},
        "items": "items.csv", "item_id": "item_id", "text_fields": ["title"]}))


@pytest.fixture
def data_dir(tmp_path) -> Path:
    root = tmp_path / "data"
    _write_folder(root, "movies", [f"Movie number {i}. space opera" for i in range(8)])
    _write_folder(root, "tea", [f"Green tea cup {i}" for i in range(6)] + ["Red tea cup"], seed=1)
    _write_folder(root, "films", [f"Movie number {i}. horror" for i in range(7)], seed=2)
    return root


def _invoke(args: list[str], data_dir: Path, tmp_path: Path, encoder: Path):
    return runner.invoke(app, ["transfer-report", *args, "--data-dir", str(data_dir), "--encoder", str(encoder),
                               "--cache-dir", str(tmp_path / "cache")])


def test_report_writes_the_matrix_gains_and_heatmap(data_dir, tmp_path, tiny_bert_path):
    pytest.importorskip("matplotlib")
    gains = tmp_path / "gains.json"
    row = {"dataset": "films", "protocol": "p", "seed": 0, "wall_s": 1.0}
    gains.write_text(json.dumps({"table": "t", "command": "c", "rows": [
        {**row, "model": "scratch", "metrics": {"ndcg@10": 0.10}},
        {**row, "model": "pre", "source": "movies", "metrics": {"ndcg@10": 0.15}}]}))
    out = tmp_path / "report"
    res = _invoke(["--targets", "films,tea", "--sources", "movies,tea", "--out", str(out), "--gains", str(gains)],
                  data_dir, tmp_path, tiny_bert_path)
    assert res.exit_code == 0, res.output
    for name in ("transfer_report.json", "transfer_report.md", "transfer_heatmap.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "transfer_heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rep = json.loads((out / "transfer_report.json").read_text())
    m = rep["matrix"]
    assert m["rows"] == ["films", "tea"] and m["columns"] == ["movies", "tea"]
    assert m["centroid_cosine"][1][1] is None                           # tea → tea is not a pair
    assert [(p["source"], p["target"]) for p in rep["pairs"]] == [("movies", "films"), ("tea", "films"),
                                                                   ("movies", "tea")]
    cc = m["centroid_cosine"]
    # films share "Movie number i." with movies, nothing with tea
    assert cc[0][0] > cc[0][1] and m["nn_mean_cosine"][0][0] > m["nn_mean_cosine"][0][1]
    assert m["gain"][0] == [pytest.approx(0.05), None]
    assert rep["datasets"]["tea"]["n_items"] == 7 and rep["expert_usage"] is None
    md = (out / "transfer_report.md").read_text()
    assert "Centroid cosine" in md and "| films" in md


def test_expert_usage_per_domain_after_pretraining(data_dir, tmp_path, tiny_bert_path):
    from lmrec.data.multidomain import MultiDomainDataset
    from lmrec.data.registry import load_dataset
    from lmrec.encoders.factory import load_encoder
    from lmrec.models.unisrec import pretrain_unisrec
    from lmrec.training.pretrain import PretrainConfig

    enc = load_encoder(str(tiny_bert_path))
    md = MultiDomainDataset.from_datasets([load_dataset("movies", data_dir), load_dataset("tea", data_dir)])
    vec = np.random.default_rng(0).normal(size=(md.n_items, 32)).astype(np.float32)
    pre = pretrain_unisrec(md, vec, vec[None], PretrainConfig(hidden=12, inner=16, n_heads=2, n_experts=3, epochs=1,
                                                             batch_size=8),
                           encoder_identity=enc.identity(), encoder_hash=enc.identity_hash())
    pre.save_pretrained(tmp_path / "pre")
    out = tmp_path / "report"
    res = _invoke(["--targets", "films", "--sources", "movies", "--out", str(out), "--pretrained",
                   str(tmp_path / "pre")], data_dir, tmp_path, tiny_bert_path)
    assert res.exit_code == 0, res.output
    usage = json.loads((out / "transfer_report.json").read_text())["expert_usage"]
    assert usage["n_experts"] == 3 and usage["pretraining_domains"] == ["movies", "tea"]
    by_name = {d["name"]: d for d in usage["domains"]}
    assert set(by_name) == {"films", "movies", "tea"}                    # tea loaded as a pre-training domain
    assert by_name["tea"]["pretraining_domain"] and not by_name["films"]["pretraining_domain"]
    for d in usage["domains"]:
        assert len(d["usage"]) == 3 and sum(d["usage"]) == pytest.approx(1.0)
    assert "MoE expert usage" in (out / "transfer_report.md").read_text()


def test_refusals_name_the_problem(data_dir, tmp_path, tiny_bert_path):
    out = tmp_path / "r"
    res = _invoke(["--targets", "films", "--sources", "nope", "--out", str(out)], data_dir, tmp_path, tiny_bert_path)
    assert res.exit_code == 2 and "unknown dataset 'nope'" in res.output and "films, movies, tea" in res.output
    res = _invoke(["--targets", "films", "--sources", "films", "--out", str(out)], data_dir, tmp_path, tiny_bert_path)
    assert res.exit_code == 2 and "same dataset" in res.output
    res = _invoke(["--targets", "films", "--sources", "tea", "--out", str(out), "--pretrained", str(tmp_path / "no")],
                  data_dir, tmp_path, tiny_bert_path)
    assert res.exit_code == 2 and "no pre-trained model at" in res.output and "lmrec pretrain" in res.output
    assert not out.exists() and not (tmp_path / "cache").exists()      # refused before anything was encoded
