"""The domain selector of multi-domain datasets: ``<dataset>:food`` / ``<dataset>:kitchen``."""

from __future__ import annotations

import json

import pytest
from loader_files import write_llmcdsr, write_ml100k

from lmrec.data.loaders.llmcdsr import load_llmcdsr
from lmrec.data.registry import UnknownDatasetError, find_datasets, load_dataset
from lmrec.data.splits import make_split


@pytest.fixture
def data_dir(tmp_path):
    root = tmp_path / "data"
    write_llmcdsr(root / "fk")
    write_ml100k(root / "ml-100k")
    return root


def _cases(ds, part):
    split = make_split(ds, "auto")
    cases = getattr(split, part)
    ids = ds.item_map.ids
    return [(ds.user_map.ids[u], [ids[i] for i in h], [ids[i] for i in t])
            for u, h, t in zip(cases.users, cases.histories, cases.targets)]


def test_each_domain_is_listed_as_its_own_dataset(data_dir):
    found = {(i.name, i.format, i.category) for i in find_datasets(data_dir)}
    assert {("fk", "llmcdsr", None), ("fk:food", "llmcdsr", "food"),
            ("fk:kitchen", "llmcdsr", "kitchen")} <= found


def test_food_domain_keeps_food_items_and_the_files_split(data_dir):
    ds = load_dataset("fk:food", data_dir)
    assert ds.name == "fk:food" and ds.source["domain"] == "food"
    assert sorted(ds.items.index) == ["FA", "FB", "FC"] and ds.items.loc["FC", "title"] == "Olive oil"
    assert set(ds.interactions["domain"]) == {"food"}
    # A:1 3 + O:1 2 + V:1 3 + V:2 1 + T:1 2 + T:2 2 food interactions; B:1 bought no food
    assert len(ds.interactions) == 13 and "B:1" not in ds.user_map
    assert ds.interactions.groupby("split").size().to_dict() == {"test": 1, "train": 11, "valid": 1}
    # valid V:1 (0,3,1,2): kitchen item 3 leaves the history; V:2's target is kitchen → no case
    assert _cases(ds, "valid") == [("V:1", ["FA", "FB"], ["FC"])]
    assert _cases(ds, "test") == [("T:2", ["FB"], ["FA"])]
    # a valid/test line whose target is kitchen gives its food items to training
    split = make_split(ds, "auto")
    train_t1 = [ds.item_map.ids[i] for i in split.train[ds.user_map.index("T:1")]]
    assert train_t1 == ["FC", "FA"]


def test_kitchen_domain(data_dir):
    ds = load_dataset("fk:kitchen", data_dir)
    assert sorted(ds.items.index) == ["KA", "KB", "KC", "KD"] and len(ds.interactions) == 12
    assert _cases(ds, "valid") == [("V:2", ["KC"], ["KD"])]
    assert _cases(ds, "test") == [("T:1", ["KA"], ["KB"])]
    both = load_dataset("fk", data_dir)
    assert len(both.interactions) == len(ds.interactions) + 13 and both.n_items == 7


def test_unknown_domain_names_the_available_ones(data_dir):
    with pytest.raises(UnknownDatasetError, match=r"'fk' has no domain 'books'; available domains: food, kitchen"):
        load_dataset("fk:books", data_dir)
    with pytest.raises(UnknownDatasetError, match=r"'ml-100k' has a single domain.*use 'ml-100k'"):
        load_dataset("ml-100k:food", data_dir)
    with pytest.raises(UnknownDatasetError, match=r"unknown dataset 'nope:food'.*available: fk, fk:food"):
        load_dataset("nope:food", data_dir)
    with pytest.raises(ValueError, match=r"no domain 'books' in this LLMCDSR set; available domains: food, kitchen"):
        load_llmcdsr(data_dir / "fk", domain="books")


def test_domain_after_an_absolute_path(data_dir):
    assert load_dataset(f"{data_dir / 'fk'}:kitchen").n_items == 4
    with pytest.raises(UnknownDatasetError, match="available domains: food, kitchen"):
        load_dataset(f"{data_dir / 'fk'}:toys")


def test_cli_lists_trains_and_recommends_on_one_domain(data_dir, tmp_path):
    from typer.testing import CliRunner

    from lmrec.cli.main import app

    runner = CliRunner()
    out = runner.invoke(app, ["datasets", "--data-dir", str(data_dir), "--json"])
    assert out.exit_code == 0, out.output
    stats = {s["name"]: s for s in json.loads(out.output)}
    assert stats["fk:food"]["n_items"] == 3 and stats["fk:kitchen"]["n_users"] == 6
    assert stats["fk:food"]["domains"] == ["food"]
    run = tmp_path / "run"
    out = runner.invoke(app, ["train", "--dataset", "fk:food", "--model", "pop", "--out", str(run),
                              "--data-dir", str(data_dir), "--quiet"])
    assert out.exit_code == 0, out.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"]["name"] == "fk:food" and metrics["split"]["n_test_cases"] == 1
    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "T:2", "-k", "2"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["train", "--dataset", "fk:toys", "--model", "pop", "--out", str(tmp_path / "r2"),
                              "--data-dir", str(data_dir)])
    assert out.exit_code == 2 and "available domains: food, kitchen" in out.output


@pytest.mark.parametrize("pretrained_on, target, refused", [
    (["fk:food", "fk:kitchen"], "fk:food", True),     # the whole set was a source
    (["fk:food"], "fk:food", True),                    # the same single domain
    (["fk:kitchen"], "fk", True),                      # the target contains a source domain
    (["fk:kitchen"], "fk:food", False),                # leave-one-domain-out
    (["fk:kitchen", "ml-100k"], "amazon-unisrec-scientific", False),
])
def test_transfer_refuses_a_target_that_was_a_pretraining_domain(pretrained_on, target, refused):
    from types import SimpleNamespace

    from lmrec.transfer import _check_not_source

    pre = SimpleNamespace(path="runs/pre", pretraining={"domains": {"domains": [{"name": n} for n in pretrained_on]}})
    if refused:
        with pytest.raises(ValueError, match="would not be on an unseen domain"):
            _check_not_source(pre, target)
    else:
        _check_not_source(pre, target)
