"""bench/recbole_peer/run_sasrec.py: data checks (no RecBole needed) and a tiny end-to-end run.

The end-to-end test runs the script with the RecBole venv's python (``bash
bench/recbole_peer/setup.sh`` creates ``.cache/recbole-venv``) and is skipped when that venv is
absent; RecBole is never imported into lmrec's own environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "recbole_peer" / "run_sasrec.py"
VENV_PYTHON = ROOT / ".cache" / "recbole-venv" / "bin" / "python"
CHECKER = ROOT.parent / "shared" / "tools" / "check-results"
HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"


def load_script():
    spec = importlib.util.spec_from_file_location("recbole_peer_run_sasrec", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_unisrec(folder: Path, prefix: str, sequences: dict[int, list[int]]) -> None:
    """UniSRec's atomic files: every training prefix, then one valid and one test row per user."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "valid": [], "test": []}
    for user, seq in sequences.items():
        for t in range(1, len(seq) - 2):
            rows["train"].append((user, seq[:t], seq[t]))
        rows["valid"].append((user, seq[:-2], seq[-2]))
        rows["test"].append((user, seq[:-1], seq[-1]))
    for split, lines in rows.items():
        body = "".join(f"{u}\t{' '.join(map(str, h))}\t{i}\n" for u, h, i in lines)
        (folder / f"{prefix}.{split}.inter").write_text(HEADER + body)


def tiny_sequences(n_users: int = 80, n_items: int = 60) -> dict[int, list[int]]:
    """Deterministic histories of 5-9 distinct items; items ``0..n_items-1`` all occur."""
    seqs = {}
    for u in range(n_users):
        length = 5 + u % 5
        seqs[u] = [(u + 7 * j) % n_items for j in range(length)]
    return seqs


def test_find_prefix_reads_the_atomic_files_stem(tmp_path):
    rs = load_script()
    write_unisrec(tmp_path / "ds", "Scientific", tiny_sequences(4, 10))
    assert rs.find_prefix(tmp_path / "ds") == "Scientific"


def test_find_prefix_names_the_missing_split(tmp_path):
    rs = load_script()
    write_unisrec(tmp_path / "ds", "Toy", tiny_sequences(4, 10))
    (tmp_path / "ds" / "Toy.valid.inter").unlink()
    with pytest.raises(FileNotFoundError, match=r"Toy\.valid\.inter is missing"):
        rs.find_prefix(tmp_path / "ds")


def test_find_prefix_rejects_a_foreign_header_naming_the_file(tmp_path):
    rs = load_script()
    write_unisrec(tmp_path / "ds", "Toy", tiny_sequences(4, 10))
    (tmp_path / "ds" / "Toy.test.inter").write_text("user\titem\n1\t2\n")
    with pytest.raises(ValueError, match=r"Toy\.test\.inter: line 1"):
        rs.find_prefix(tmp_path / "ds")


def test_link_dataset_links_into_the_work_dir_and_replaces_stale_entries(tmp_path):
    rs = load_script()
    old, new = tmp_path / "old", tmp_path / "new"
    write_unisrec(old, "Toy", tiny_sequences(4, 10))
    write_unisrec(new, "Toy", tiny_sequences(6, 10))
    rs.link_dataset(old, "Toy", tmp_path / "work" / "dataset")
    dest = rs.link_dataset(new, "Toy", tmp_path / "work" / "dataset")
    assert dest == tmp_path / "work" / "dataset" / "Toy"
    for split in ("train", "valid", "test"):
        linked = dest / f"Toy.{split}.inter"
        assert linked.read_text() == (new / f"Toy.{split}.inter").read_text()
    # 6 users → 6 valid rows + the header
    assert len((dest / "Toy.valid.inter").read_text().splitlines()) == 7


def test_config_is_recbole_sasrec_defaults_with_full_ranking(tmp_path):
    cfg = load_script().recbole_yaml("Toy", tmp_path, 300, 2020, tmp_path / "saved")
    model = {k: cfg[k] for k in ("hidden_size", "n_layers", "n_heads", "inner_size", "hidden_dropout_prob",
                                 "attn_dropout_prob", "loss_type")}
    assert model == {"hidden_size": 64, "n_layers": 2, "n_heads": 2, "inner_size": 256, "hidden_dropout_prob": 0.5,
                     "attn_dropout_prob": 0.5, "loss_type": "CE"}
    assert (cfg["learning_rate"], cfg["train_batch_size"], cfg["MAX_ITEM_LIST_LENGTH"], cfg["stopping_step"]) == (
        0.001, 2048, 50, 10)
    assert cfg["eval_args"]["mode"] == "full" and cfg["valid_metric"] == "NDCG@10" and cfg["topk"] == [10, 50]


@pytest.mark.skipif(not VENV_PYTHON.exists(), reason=f"{VENV_PYTHON} absent (bash bench/recbole_peer/setup.sh)")
def test_end_to_end_tiny_run_writes_one_checked_json(tmp_path):
    seqs = tiny_sequences()
    write_unisrec(tmp_path / "data" / "toy-unisrec", "Toy", seqs)
    out = tmp_path / "results" / "recbole_sasrec_toy.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(VENV_PYTHON), str(SCRIPT), "--data-dir", str(tmp_path / "data"), "--dataset",
                           "toy-unisrec", "--seed", "3", "--epochs", "2", "--threads", "1", "--out", str(out),
                           "--work-dir", str(tmp_path / "work")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["peer"] == "RecBole 1.2.1 SASRec" and doc["seed"] == 3 and doc["table"] == "recbole_sasrec_toy"
    assert doc["dataset_stats"] == {"n_users": 80, "n_items": 60, "n_train_rows": sum(len(s) - 3 for s in seqs.values()),
                                    "n_valid_rows": 80, "n_test_rows": 80}
    assert doc["epochs"] == 2 and [row["epoch"] for row in doc["curve"]] == [0, 1]
    assert doc["best_epoch"] in (0, 1)
    # the reported valid metrics are those of the best epoch's checkpoint, reloaded
    assert doc["valid"]["ndcg@10"] == pytest.approx(doc["curve"][doc["best_epoch"]]["valid"]["ndcg@10"], abs=1e-4)
    assert list(doc["metrics"]) == ["recall@10", "ndcg@10", "mrr@10", "recall@50", "ndcg@50"]
    assert all(0.0 <= v <= 1.0 for v in doc["metrics"].values())
    assert doc["metrics"]["recall@10"] <= doc["metrics"]["recall@50"]
    assert doc["wall_s"] >= doc["train_s"] > 0
    assert doc["versions"]["recbole"] == "1.2.1"
    assert out.with_suffix(".md").exists()
    assert list((tmp_path / "work" / "runs").iterdir())[0].joinpath("saved").is_dir()
    if CHECKER.exists():
        check = subprocess.run([sys.executable, str(CHECKER), str(out.parent)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
