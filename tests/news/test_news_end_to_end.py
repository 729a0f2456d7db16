"""Tiny end-to-end news runs (NRMS, PLM-NR, UNBERT, pop, random) on data the test writes, with a
tiny random BERT saved to tmp_path (fast; no MiniLM)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.data.loaders.mind import load_mind
from lmrec.data.news import split_by_user
from lmrec.evaluation.impressions import evaluate_impressions
from lmrec.models.news_base import create_news_model, load_news_model

WORDS = ["border", "asylum", "football", "goal", "election", "vote", "storm", "rain",
         "migrants", "team", "senate", "flood", "wall", "league", "ballot", "weather"]
TOPICS = [WORDS[0:4:1][:2] + ["migrants", "wall"], ["football", "goal", "team", "league"],
          ["election", "vote", "senate", "ballot"], ["storm", "rain", "flood", "weather"]]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def write_tiny_bert(folder):
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + ["news", "about", "the"]
    BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(str(folder))
    import torch

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=256)
    BertModel(cfg).save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def news_folder(tmp_path_factory):
    return write_news(tmp_path_factory.mktemp("mind"), tmp_path_factory.mktemp("mind_test"))


def write_news(folder, unlabeled):
    """80 users, each loving one of 4 topics: clicks always go to their topic's news."""
    rng = np.random.default_rng(0)
    news = []
    for t, words in enumerate(TOPICS):
        for j in range(6):
            title = " ".join(rng.choice(words, 3)) + " news"
            news.append((f"N{t}{j}", t, title))
    (folder / "news.tsv").write_text("".join(f"{n}\tcat{t}\tsub\t{title}\t\t\t[]\t[]\n" for n, t, title in news))
    lines, test_lines, imp = [], [], 0
    for u in range(80):
        topic = u % 4
        mine = [n for n, t, _ in news if t == topic]
        other = [n for n, t, _ in news if t != topic]
        hist = " ".join(rng.choice(mine, 3, replace=False)) if u % 10 else ""     # some empty histories
        for _ in range(3):
            cands = [rng.choice(mine)] + list(rng.choice(other, 4, replace=False))
            order = rng.permutation(5)
            labeled = " ".join(f"{cands[k]}-{int(k == 0)}" for k in order)
            lines.append(f"{imp}\tU{u}\t11/11/2019 9:00:00 AM\t{hist}\t{labeled}\n")
            test_lines.append(f"{imp}\tU{u}\t11/11/2019 9:00:00 AM\t{hist}\t{' '.join(cands[k] for k in order)}\n")
            imp += 1
    (folder / "behaviors.tsv").write_text("".join(lines))
    (unlabeled / "news.tsv").write_text((folder / "news.tsv").read_text())
    (unlabeled / "behaviors.tsv").write_text("".join(test_lines[:6]))
    return folder, unlabeled


def _params(name, bert):
    common = dict(epochs=8, seed=0)
    return {"nrms": dict(tokenizer=bert, emb_dim=16, heads=4, head_dim=4, query_dim=8, batch_size=16, lr=1e-2, **common),
            "plm-nr": dict(encoder=bert, tune_layers=1, heads=4, query_dim=8, batch_size=16, lr=3e-3,
                           plm_lr=1e-3, **common),
            "unbert": dict(encoder=bert, tune_layers=1, batch_size=8, lr=3e-3, plm_lr=1e-3, epochs=3, seed=0),
            "pop": {}, "random": dict(seed=0)}[name]


@pytest.mark.parametrize("name", ["nrms", "plm-nr", "unbert", "pop", "random"])
def test_train_score_save_load(name, tiny_bert, news_folder, tmp_path):
    data = load_mind(news_folder[0])
    parts = split_by_user(data, (0.8, 0.1, 0.1), seed=0)
    model = create_news_model(name, **_params(name, tiny_bert)).fit(parts["train"])
    scores = model.score(parts["test"])
    assert [len(s) for s in scores] == [len(c) for c in parts["test"].impressions.candidates]
    res = evaluate_impressions(scores, parts["test"].impressions.labels)
    assert res["n_evaluated"] == len(parts["test"].impressions)
    if name in ("nrms", "plm-nr"):
        # topic-consistent clicks are easy to learn for a personalised text model
        assert res["metrics"]["auc"] > 0.75, res
    model.save(tmp_path / "m")
    again = load_news_model(tmp_path / "m").score(parts["test"])
    for a, b in zip(scores, again):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_plm_nr_frozen_variants_train(tiny_bert, news_folder):
    data = load_mind(news_folder[0])
    parts = split_by_user(data, (0.8, 0.1, 0.1), seed=0)
    for pooling in ("cls", "mean"):
        p = _params("plm-nr", tiny_bert) | {"pooling": pooling, "tune_layers": 0, "epochs": 1}
        m = create_news_model("plm-nr", **p).fit(parts["train"])
        assert m.fit_info_["steps"] == int(np.ceil(m.fit_info_["n_samples"] / 16))
        assert not any(n.startswith("tower.top_layers") for n, _ in m.net_.named_parameters())


def test_cli_train_evaluate_predict(tiny_bert, news_folder, tmp_path):
    from lmrec.cli.main import app

    labeled, unlabeled = news_folder
    runner = CliRunner()
    run_dir = tmp_path / "run"
    res = runner.invoke(app, ["news", "train", "--dataset", str(labeled), "--model", "nrms", "--out", str(run_dir),
                              "--epochs", "2", "--quiet", "--param", f"tokenizer={tiny_bert}",
                              "--param", "emb_dim=16", "--param", "heads=4", "--param", "head_dim=4"])
    assert res.exit_code == 0, res.output
    assert (run_dir / "metrics.json").is_file() and (run_dir / "model" / "model.safetensors").is_file()
    res = runner.invoke(app, ["news", "evaluate", "--run", str(run_dir)])
    assert res.exit_code == 0 and "auc" in res.output, res.output
    out = tmp_path / "prediction.txt"
    res = runner.invoke(app, ["news", "predict", "--run", str(run_dir), "--out", str(out), "--dataset", str(unlabeled)])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert len(lines) == 6
    imp_id, ranks = lines[0].split(" ")
    assert imp_id == "0" and sorted(int(r) for r in ranks.strip("[]").split(",")) == [1, 2, 3, 4, 5]
    res = runner.invoke(app, ["news", "evaluate", "--run", str(run_dir), "--dataset", str(unlabeled)])
    assert res.exit_code == 2 and "unlabeled" in res.output


def test_scores_do_not_depend_on_batch_padding(tiny_bert, news_folder):
    """An impression scored alone equals it scored in a batch with longer histories."""
    data = load_mind(news_folder[0])
    parts = split_by_user(data, (0.8, 0.1, 0.1), seed=0)
    p = _params("plm-nr", tiny_bert) | {"epochs": 1}
    model = create_news_model("plm-nr", **p).fit(parts["train"])
    test = parts["test"]
    together = model.score(test)
    short = min(range(len(test.impressions)), key=lambda i: len(test.impressions.histories[i]))
    alone = model.score(test.subset([short], "one"))[0]
    np.testing.assert_allclose(alone, together[short], atol=1e-5)


def test_vocabulary_check_warns_on_foreign_text(tiny_bert):
    from lmrec.models.news_text import load_tokenizer, vocabulary_fit, warn_on_vocabulary_mismatch

    tok = load_tokenizer(tiny_bert)
    assert vocabulary_fit(tok, ["border news"])["unk_rate"] == 0.0
    # 2 of the 4 words are outside the tiny vocabulary -> 50 % unknown tokens
    with pytest.warns(UserWarning, match="50.00% unknown tokens"):
        fit = warn_on_vocabulary_mismatch(tok, ["Grenze border Nachrichten news"], "tiny", "de")
    assert fit["warned"] and fit["n_words"] == 4
