"""Transfer benchmark: multi-domain pre-training → Scientific (zero-shot, inductive, transductive).

Sources (pre-training): Amazon Grocery & Gourmet Food and Home & Kitchen
(``amazon-food-kitchen-llmcdsr``, one domain each), Magazine Subscriptions, Gift Cards and
Appliances (``amazon2018-raw``; Appliances' item text comes from its reviews). NOT
``amazon-lcrec/Scientific``: it is the target's domain (the overlap check refuses it and the
refusal is recorded). Items the sources share with the target (same ASIN or title) are removed
from the source sequences before pre-training.

Target: ``amazon-unisrec-scientific`` with the UniSRec protocol (files as given, full ranking,
RecBole full sort = history kept; history-excluded numbers of the same models beside them).

Stages (each adds rows to a work file under ``$LMREC_CACHE_DIR/transfer_bench``; the tables
are re-rendered from all rows after every stage):

``pretrain``   encode sources (+ one word-dropped variant per item), pre-train UniSRec and ZESRec
``scientific`` zero-shot (UniSRec, ZESRec, Embedding-KNN), UniSRec from scratch / inductive /
               transductive fine-tuning, fusion Transformer (Scientific + sources)
``fewshot``    inductive fine-tuning and training from scratch on 1 / 5 / 20 % of the target's
               training users
``zesrec``     re-run the (cheap) ZESRec pre-training alone with its own epochs / lr, and its
               zero-shot rows
``e2e``        TransRec-style end-to-end tuning of MiniLM's last layer(s) with SASRec-text, against
               the same schedule with the encoder frozen (both continue from one trained model)
``render``     only re-render the tables from the work file

Writes ``bench/results/transfer_scientific.{json,md}`` and
``bench/results/leave_one_domain_out.{json,md}``. SASRec-ID / SASRec-text(+ID) rows are copied
from ``bench/results/core_sequential.json`` (marked ``"from": "core_sequential.json"``).

Usage::

    LMREC_DATA_DIR=../shared/datasets python bench/transfer_benchmark.py --stage pretrain
    LMREC_DATA_DIR=../shared/datasets python bench/transfer_benchmark.py --stage scientific --seeds 0
    LMREC_DATA_DIR=../shared/datasets python bench/transfer_benchmark.py --stage fewshot
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import repo_relative  # noqa: E402  (bench/_paths.py: no machine's absolute paths in results)
from published import pick  # noqa: E402  (bench/published.py: one list of published numbers)

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = "amazon-unisrec-scientific"
SOURCES = ["amazon-food-kitchen-llmcdsr", "amazon2018-raw/Magazine_Subscriptions", "amazon2018-raw/Gift_Cards",
           "amazon2018-raw/Appliances"]
SAME_DOMAIN = "amazon-lcrec/Scientific"
METRICS = ["recall@10", "ndcg@10", "recall@50", "ndcg@50", "mrr@10"]
KEPT = "given split (UniSRec files, leave-one-out); full ranking; history kept (RecBole full sort); max_len 50"
EXCL = "given split (UniSRec files, leave-one-out); full ranking; history excluded; max_len 50"

#: Published numbers on the same Scientific files (RecBole full sort, history kept): ``bench/published.py``.
REFERENCES = pick("unisrec-inductive", "unisrec-transductive", "vqrec", "zesrec-zero-shot", "vqrec-zero-shot",
                  "sasrec-bert-text")


def work_dir() -> Path:
    root = Path(os.environ.get("LMREC_CACHE_DIR") or Path.home() / ".cache" / "lmrec")
    return root / "transfer_bench"


def load_rows() -> dict:
    path = work_dir() / "rows.json"
    return json.loads(path.read_text()) if path.exists() else {"rows": [], "commands": [], "facts": {}}


def save_rows(doc: dict) -> None:
    from lmrec.evaluation.results import write_json_atomic

    write_json_atomic(work_dir() / "rows.json", doc)


def add_rows(doc: dict, rows: list[dict]) -> None:
    key = lambda r: (r["model"], r["protocol"], r["seed"], r.get("target_training"))  # noqa: E731
    new = {key(r) for r in rows}
    doc["rows"] = [r for r in doc["rows"] if key(r) not in new] + rows


def _metric_row(model: str, protocol: str, seed: int, wall: float, result: dict, **extra) -> dict:
    cold = result.get("slices", {}).get("cold_items", {})
    return {"dataset": TARGET, "model": model, "protocol": protocol, "seed": seed, "wall_s": round(wall, 1),
            "metrics": {k: round(float(result["metrics"][k]), 5) for k in METRICS},
            "cold_items": {"n_cases": cold.get("n_cases", 0),
                           **{k: round(float(v), 5) for k, v in cold.get("metrics", {}).items()
                              if k in ("recall@10", "ndcg@10")}}, **extra}


def _both_protocols(model_name: str, model, split, seed: int, wall: float, **extra) -> list[dict]:
    """Evaluate ``model`` on test with history kept and excluded; two rows."""
    from lmrec.evaluation.ranking import evaluate_ranking

    rows = []
    for excl, proto in ((False, KEPT), (True, EXCL)):
        t0 = time.perf_counter()
        res = evaluate_ranking(model.score, split.test, split.n_items, ks=(10, 50), exclude_history=excl,
                               item_slices=split.item_slices())
        rows.append(_metric_row(model_name, proto, seed, wall + time.perf_counter() - t0, res, **extra))
        print(f"  {model_name:34s} seed {seed} {'excl' if excl else 'kept'}  "
              + "  ".join(f"{k} {rows[-1]['metrics'][k]:.4f}" for k in METRICS[:4])
              + f"  cold r@10 {rows[-1]['cold_items'].get('recall@10', float('nan')):.4f}  ({rows[-1]['wall_s']}s)",
              flush=True)
    return rows


# ------------------------------------------------------------------------------- stages
def stage_pretrain(args, doc: dict) -> None:
    import torch

    from lmrec.data.multidomain import DomainOverlapError, MultiDomainDataset, check_domain_overlap
    from lmrec.data.registry import load_dataset
    from lmrec.encoders.factory import load_encoder
    from lmrec.models.unisrec import pretrain_unisrec
    from lmrec.models.zesrec import pretrain_zesrec
    from lmrec.training.pretrain import PretrainConfig
    from lmrec.transfer import encode_domains, encode_word_drop

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    target = load_dataset(TARGET)
    sources = [load_dataset(n) for n in SOURCES]
    try:
        check_domain_overlap([load_dataset(SAME_DOMAIN)], target)
        refused = None
    except DomainOverlapError as exc:
        refused = {"source": SAME_DOMAIN, "message": str(exc)[:600],
                   "report": {**exc.report, "sources": [{k: v for k, v in s.items() if k != "excluded_item_ids"}
                                                        for s in exc.report["sources"]]}}
    overlap = check_domain_overlap(sources, target)
    exclude = {s["dataset"]: set(s["excluded_item_ids"]) for s in overlap["sources"]}
    md = MultiDomainDataset.from_datasets(sources, max_users_per_domain=args.max_users_per_domain, seed=0,
                                          exclude_items=exclude)
    encoder = load_encoder(None)
    t1 = time.perf_counter()
    vectors = encode_domains(md, encoder, show_progress=False)
    aug = encode_word_drop(md, encoder, n_variants=1, p=0.15, seed=0)
    encode_s = time.perf_counter() - t1
    print(f"sources: {md.n_items} items encoded (+1 word-drop variant) in {encode_s:.0f}s", flush=True)
    cfg = PretrainConfig(epochs=args.pretrain_epochs, max_train_seconds=args.pretrain_seconds, seed=0)
    ident, ihash = encoder.identity(), encoder.identity_hash()
    uni = pretrain_unisrec(md, vectors, aug, cfg, encoder_identity=ident, encoder_hash=ihash, show_progress=True)
    uni.pretraining["overlap_check"] = {**overlap, "sources": [{k: v for k, v in s.items() if k != "excluded_item_ids"}
                                                               for s in overlap["sources"]]}
    uni.save_pretrained(work_dir() / "unisrec")
    zcfg = PretrainConfig(epochs=args.zesrec_epochs, max_train_seconds=args.zesrec_seconds, lr=args.zesrec_lr, seed=0)
    zes = pretrain_zesrec(md, vectors, zcfg, encoder_identity=ident, encoder_hash=ihash, show_progress=True)
    zes.save_pretrained(work_dir() / "zesrec")
    import numpy as np

    np.save(work_dir() / "source_vectors.npy", vectors)
    (work_dir() / "md_report.json").write_text(json.dumps(md.describe()))
    doc["facts"]["pretraining"] = {
        "sources": SOURCES, "multidomain": md.describe(), "overlap_check": uni.pretraining["overlap_check"],
        "refused_same_domain": refused, "encode_s": round(encode_s, 1),
        "unisrec": {"config": cfg.to_dict(), "training": uni.pretraining["training"]},
        "zesrec": {"training": zes.pretraining["training"]},
        "wall_s": round(time.perf_counter() - t0, 1),
        "word_drop": "one word-dropped text per item precomputed with the cached encoder (not re-encoded per step)"}


def stage_zesrec(args, doc: dict) -> None:
    """Re-run ZESRec pre-training alone (it is cheap) and its zero-shot rows, once per ``--seeds``
    (seed 0's model is the one the scientific stage loads; other seeds go to ``zesrec-seed<n>``)."""
    import torch

    from lmrec.encoders.factory import load_encoder
    from lmrec.models.zesrec import ZESRec
    from lmrec.seed import seed_everything
    from lmrec.models.zesrec import pretrain_zesrec
    from lmrec.training.pretrain import PretrainConfig, zero_shot_evaluate

    torch.set_num_threads(2)
    md, vectors = _sources_md()
    encoder = load_encoder(None)
    ds, split, tvec = _target()
    for seed in args.seeds:
        seed_everything(seed)
        zcfg = PretrainConfig(epochs=args.zesrec_epochs, max_train_seconds=args.zesrec_seconds, lr=args.zesrec_lr,
                              seed=seed)
        zes = pretrain_zesrec(md, vectors, zcfg, encoder_identity=encoder.identity(),
                              encoder_hash=encoder.identity_hash(), show_progress=True)
        zes.save_pretrained(work_dir() / ("zesrec" if seed == 0 else f"zesrec-seed{seed}"))
        if seed == 0 and doc["facts"].get("pretraining"):
            doc["facts"]["pretraining"]["zesrec"] = {"config": zcfg.to_dict(), "training": zes.pretraining["training"]}
        model = ZESRec.from_pretrained(zes).set_catalog(tvec)
        t0 = time.perf_counter()
        zero_shot_evaluate(model, split, ks=(10,))
        h = zes.pretraining["training"]
        add_rows(doc, _both_protocols("ZESRec (zero-shot)", model, split, seed, time.perf_counter() - t0,
                                      target_training="none", setting="zero-shot", train_accesses=0,
                                      stopped=h.get("stopped"), best_epoch=h.get("best_epoch"),
                                      pretrain_s=h.get("train_seconds"),
                                      source_valid_recall10=h.get("best_valid_recall@10"),
                                      source_valid_recall10_untrained=h.get("valid_recall@10_untrained")))


def _target():
    from lmrec.data.registry import load_dataset
    from lmrec.data.splits import make_split
    from lmrec.pipeline import ExperimentConfig, encode_items

    ds = load_dataset(TARGET)
    split = make_split(ds, "auto")
    vectors, _ = encode_items(ds, ExperimentConfig(dataset=TARGET, model="unisrec"))
    return ds, split, vectors


def _sources_md():
    """The pre-training MultiDomainDataset (rebuilt exactly as in the pretrain stage) and its vectors."""
    import numpy as np

    from lmrec.data.multidomain import MultiDomainDataset, check_domain_overlap
    from lmrec.data.registry import load_dataset

    target = load_dataset(TARGET)
    sources = [load_dataset(n) for n in SOURCES]
    overlap = check_domain_overlap(sources, target)
    rep = json.loads((work_dir() / "md_report.json").read_text())
    md = MultiDomainDataset.from_datasets(sources, max_users_per_domain=rep["max_users_per_domain"], seed=0,
                                          exclude_items={s["dataset"]: set(s["excluded_item_ids"])
                                                         for s in overlap["sources"]})
    return md, np.load(work_dir() / "source_vectors.npy")


def stage_scientific(args, doc: dict) -> None:
    import torch

    from lmrec.models.base import TrainData
    from lmrec.models.embknn import EmbeddingKNN
    from lmrec.models.fusion import Fusion
    from lmrec.models.pretrained import PretrainedModel
    from lmrec.models.unisrec import UniSRec
    from lmrec.models.zesrec import ZESRec
    from lmrec.encoders.factory import load_encoder
    from lmrec.seed import seed_everything
    from lmrec.models.unisrec import finetune_unisrec, unisrec_zero_shot
    from lmrec.training.pretrain import zero_shot_evaluate

    torch.set_num_threads(2)
    ds, split, vectors = _target()
    encoder = load_encoder(None)
    uni = PretrainedModel.from_pretrained(work_dir() / "unisrec", encoder=encoder)
    zes = PretrainedModel.from_pretrained(work_dir() / "zesrec", encoder=encoder)
    rows = []
    todo = set(args.models)
    if "zero-shot" in todo:
        for name, model in (("ZESRec (zero-shot)", ZESRec.from_pretrained(zes).set_catalog(vectors)),
                            ("UniSRec pre-trained (zero-shot)", unisrec_zero_shot(uni, vectors)),
                            ("Embedding-KNN (zero-shot)", EmbeddingKNN().fit(TrainData(split, vectors)))):
            t0 = time.perf_counter()
            zero_shot_evaluate(model, split, ks=(10,))  # asserts no access to the target's training data
            zh = zes.pretraining.get("training", {}) if name.startswith("ZESRec") else {}
            zx = {"stopped": zh.get("stopped"), "best_epoch": zh.get("best_epoch"),
                  "source_valid_recall10": zh.get("best_valid_recall@10"),
                  "source_valid_recall10_untrained": zh.get("valid_recall@10_untrained")} if zh else {}
            rows += _both_protocols(name, model, split, 0, time.perf_counter() - t0, target_training="none",
                                    setting="zero-shot", train_accesses=0, **zx)
    ft = {"max_train_seconds": args.finetune_seconds, "patience": args.patience}
    for seed in args.seeds:
        runs = []
        if "scratch" in todo:
            runs.append(("UniSRec from scratch (text only)", lambda: UniSRec(mode="inductive", freeze_transformer=False, **ft),
                         {"setting": "in-domain, no pre-training", "freeze_transformer": False}))
        suffix = " (Transformer trained)" if args.train_transformer else ""
        if "inductive" in todo:
            runs.append(("UniSRec pre-trained + inductive" + suffix, lambda: UniSRec.from_pretrained(
                uni, mode="inductive", freeze_transformer=not args.train_transformer, **ft),
                {"setting": "pre-trained on sources, fine-tuned text only",
                 "freeze_transformer": not args.train_transformer}))
        if "transductive" in todo:
            runs.append(("UniSRec pre-trained + transductive" + suffix, lambda: UniSRec.from_pretrained(
                uni, mode="transductive", freeze_transformer=not args.train_transformer, **ft),
                {"setting": "pre-trained on sources, fine-tuned text + ID",
                 "freeze_transformer": not args.train_transformer}))
        for name, make, extra in runs:
            seed_everything(seed)
            t0 = time.perf_counter()
            model = make().fit(TrainData(split, vectors, seed=seed, exclude_history=False))
            h = model.history_
            rows += _both_protocols(name, model, split, seed, time.perf_counter() - t0, target_training="100%",
                                    best_epoch=h.get("best_epoch"), stopped=h.get("stopped"),
                                    train_s=h.get("train_seconds"), model_config=model.config, **extra)
        if "fusion" in todo:
            md, src_vectors = _sources_md()
            seed_everything(seed)
            t0 = time.perf_counter()
            model = Fusion(max_train_seconds=args.fusion_seconds, patience=args.patience).fit_multidomain(
                TrainData(split, vectors, seed=seed, exclude_history=False), md, src_vectors)
            h = model.history_
            rows += _both_protocols("Fusion Transformer (text+ID gate, all domains)", model, split, seed,
                                    time.perf_counter() - t0, target_training="100%",
                                    setting="one Transformer trained on Scientific + the 5 source domains",
                                    best_epoch=h.get("best_epoch"), stopped=h.get("stopped"),
                                    train_s=h.get("train_seconds"), gate=h.get("gate"),
                                    note="validation during training ranks over the union of all domains' items",
                                    model_config=model.config)
    add_rows(doc, rows)


def stage_fewshot(args, doc: dict) -> None:
    import torch

    from lmrec.encoders.factory import load_encoder
    from lmrec.models.base import TrainData
    from lmrec.models.pretrained import PretrainedModel
    from lmrec.models.unisrec import UniSRec
    from lmrec.seed import seed_everything
    from lmrec.training.pretrain import subsample_train_users

    torch.set_num_threads(2)
    ds, split, vectors = _target()
    uni = PretrainedModel.from_pretrained(work_dir() / "unisrec", encoder=load_encoder(None))
    ft = {"max_train_seconds": args.fewshot_seconds, "patience": args.patience}
    rows = []
    for frac in args.fractions:
        sub = subsample_train_users(split, frac, seed=0)
        for name, make, extra in (
                ("UniSRec pre-trained + inductive", lambda: UniSRec.from_pretrained(uni, mode="inductive", **ft),
                 {"freeze_transformer": True}),
                ("UniSRec from scratch (text only)", lambda: UniSRec(mode="inductive", freeze_transformer=False, **ft),
                 {"freeze_transformer": False})):
            seed_everything(0)
            t0 = time.perf_counter()
            model = make().fit(TrainData(sub, vectors, seed=0, exclude_history=False))
            r = _both_protocols(name, model, sub, 0, time.perf_counter() - t0, target_training=f"{frac:.0%}",
                                setting="few-shot", n_train_users=sub.report.get("n_train_users_kept"),
                                best_epoch=model.history_.get("best_epoch"), stopped=model.history_.get("stopped"),
                                **extra)
            rows += [x for x in r if x["protocol"] == KEPT]
    add_rows(doc, rows)


def stage_e2e(args, doc: dict) -> None:
    """TransRec-style tuning of MiniLM's last layer vs the same schedule with the encoder frozen."""
    import copy

    import torch

    from lmrec.data.text import build_item_texts
    from lmrec.encoders.factory import load_encoder
    from lmrec.models.base import TrainData
    from lmrec.models.sasrec import SASRec
    from lmrec.pipeline import ExperimentConfig, item_template
    from lmrec.seed import seed_everything
    from lmrec.training.end_to_end import TopLayerItemEncoder, tune_end_to_end

    torch.set_num_threads(2)
    ds, split, vectors = _target()
    texts, _ = build_item_texts(ds.items, ds.item_map.ids, item_template(ds, ExperimentConfig(dataset=TARGET,
                                                                                              model="sasrec-text")))
    data = TrainData(split, vectors, seed=0, exclude_history=False)
    seed_everything(0)
    t0 = time.perf_counter()
    base = SASRec(item_input="text", max_train_seconds=args.e2e_base_seconds).fit(data)
    base_s = time.perf_counter() - t0
    rows = _both_protocols("SASRec-text (frozen MiniLM; start of the tuning runs)", base, split, 0, base_s,
                           target_training="100%", setting="end-to-end comparison: starting point",
                           best_epoch=base.history_.get("best_epoch"), stopped=base.history_.get("stopped"))
    t1 = time.perf_counter()
    top = TopLayerItemEncoder(load_encoder(None), texts, n_tuned_layers=args.e2e_layers, max_tokens=64)
    cache_s = time.perf_counter() - t1
    start_state = copy.deepcopy(top.top.state_dict())
    doc["rows"] = [r for r in doc["rows"] if not str(r.get("setting", "")).startswith("end-to-end comparison")]
    tuned = [(f"SASRec-text + end-to-end tuned MiniLM (last {args.e2e_layers} layer(s), encoder lr {lr:g})", lr)
             for lr in args.encoder_lr]
    for name, lr in [("SASRec-text + frozen-encoder control (same schedule)", 0.0), *tuned]:
        top.top.load_state_dict(start_state)
        model = copy.deepcopy(base)
        seed_everything(0)
        t2 = time.perf_counter()
        hist = tune_end_to_end(model, data, top, encoder_lr=lr, epochs=args.e2e_epochs, items_per_step=64,
                               recommender_lr=model.config["lr"] * args.e2e_rec_lr_scale, show_progress=True)
        kept = ("; no continuation epoch beat the starting point on validation, so its weights were kept"
                if hist["best_epoch"] < 0 else "")
        rows += _both_protocols(name, model, split, 0, time.perf_counter() - t2, target_training="100%",
                                setting="end-to-end comparison: continued from the starting point",
                                e2e=hist, bottom_cache_s=round(cache_s, 1), stopped=hist["stopped"],
                                best_epoch=hist["best_epoch"],
                                note=f"wall_s = the continuation only; the starting model took {base_s:.0f}s; "
                                     f"recommender lr {hist['recommender_lr']:g}, encoder lr {lr:g}{kept}")
    add_rows(doc, rows)


# ------------------------------------------------------------------------------- rendering
def core_rows() -> list[dict]:
    core = json.loads((RESULTS / "core_sequential.json").read_text())
    names = {"sasrec-id": "SASRec-ID (in-domain)", "sasrec-text": "SASRec-text (in-domain)",
             "sasrec-text-id": "SASRec-text+ID (in-domain)"}
    out = []
    for r in core["rows"]:
        if r["dataset"] == TARGET and r["model"] in names:
            out.append({**{k: r[k] for k in ("dataset", "protocol", "seed", "wall_s", "metrics", "cold_items")},
                        "model": names[r["model"]], "target_training": "100%", "from": "core_sequential.json",
                        "setting": "in-domain (copied from bench/results/core_sequential.json)"})
    return out


def _group(rows: list[dict]) -> list[dict]:
    import numpy as np
    from collections import defaultdict

    groups = defaultdict(list)
    for r in rows:
        groups[(r["model"], r.get("target_training", ""))].append(r)
    out = []
    for (model, tt), rs in groups.items():
        row = {"model": model, "target data": tt, "seeds": ",".join(str(r["seed"]) for r in rs)}
        for k in METRICS[:4]:
            vals = np.array([r["metrics"][k] for r in rs])
            row[k] = f"{vals.mean():.4f}" + (f" ± {vals.std():.4f}" if len(vals) > 1 else "")
        cold = [r["cold_items"].get("recall@10") for r in rs if r["cold_items"].get("n_cases")]
        row["cold r@10"] = f"{np.mean(cold):.4f} (n={rs[0]['cold_items']['n_cases']})" if cold else "—"
        row["wall_s"] = f"{np.mean([r['wall_s'] for r in rs]):.0f}"
        row["stopped@best epoch"] = ", ".join(
            f"{r['stopped']}@{'start' if r.get('best_epoch') == -1 else r.get('best_epoch')}" for r in rs
            if r.get("stopped")) or "—"
        out.append(row)
    return out


def id_vs_text_section(rows: list[dict]) -> list[str]:
    """Markdown: when the behavioural ID embedding helps and when the text carries (issue 3, item 4)."""
    import numpy as np

    from lmrec.evaluation.results import format_table

    kept = [r for r in rows if r["protocol"] == KEPT and r.get("target_training") in ("none", "100%")]
    pairs = [("SASRec-text (in-domain)", "SASRec-text+ID (in-domain)", "SASRec, in-domain"),
             ("UniSRec pre-trained + inductive", "UniSRec pre-trained + transductive", "UniSRec, pre-trained"),
             ("SASRec-text (in-domain)", "Fusion Transformer (text+ID gate, all domains)", "fusion vs text only")]

    def mean(model: str, key: str, cold: bool = False) -> tuple[float, int] | None:
        rs = [r for r in kept if r["model"] == model]
        vals = [(r["cold_items"] if cold else r["metrics"]).get(key) for r in rs]
        vals = [v for v in vals if v is not None]
        return (float(np.mean(vals)), len(vals)) if vals else None

    table = []
    for text_m, id_m, what in pairs:
        a, b = mean(text_m, "recall@10"), mean(id_m, "recall@10")
        ca, cb = mean(text_m, "recall@10", True), mean(id_m, "recall@10", True)
        if a and b:
            table.append({"comparison": what, "text only": text_m, "with ID": id_m,
                          "recall@10 text → with ID": f"{a[0]:.4f} → {b[0]:.4f} ({b[0] / a[0] - 1:+.0%})",
                          "cold r@10 text → with ID": f"{ca[0]:.4f} → {cb[0]:.4f}" if ca and cb else "—"})
    gates = [r["gate"] for r in kept if r["model"].startswith("Fusion") and r.get("gate")]
    out = ["## When the ID embedding helps, and when the text carries", ""]
    if table:
        out += [format_table(table, list(table[0])), ""]
    if gates:
        warm = np.mean([g["text_share_warm_items"] for g in gates])
        out += [f"Fusion gate (share of the text part in an item's input, mean over dimensions and seeds): warm "
                f"Scientific items {warm:.2f}; cold items 1.00 by construction (no ID embedding exists).", ""]
        per = [g["per_domain"] for g in gates if g.get("per_domain")]
        if per:
            by = {}
            for run in per:
                for d in run:
                    by.setdefault(d["domain"], []).append(d)
            prow = [{"domain": name, "items": ds[0]["n_items"], "warm items": ds[0]["n_warm_items"],
                     "training interactions": ds[0]["n_train_interactions"],
                     "interactions per warm item": round(ds[0]["n_train_interactions"]
                                                         / max(1, ds[0]["n_warm_items"]), 1),
                     "text share (warm items)": round(float(np.mean([d["text_share_warm_items"] for d in ds
                                                                     if d["text_share_warm_items"] is not None])), 3)}
                    for name, ds in by.items()]
            prow.sort(key=lambda r: -r["interactions per warm item"])
            out += [f"Per domain (fusion runs with per-domain gate statistics: {len(per)}):", "",
                    format_table(prow, list(prow[0])), ""]
    out += ["Reading: the zero-shot rows are text only by necessity (a new domain has no IDs), and the cold-item "
            "column is the cold-start case inside a known domain; the cold slice has only 37 test cases on "
            "Scientific, so its differences are within noise unless large.", ""]
    return out


def e2e_section(rows: list[dict]) -> list[str]:
    """Markdown: the end-to-end (TransRec-style) runs epoch by epoch — CPU cost against gain."""
    from lmrec.evaluation.results import format_table

    runs = [r for r in rows if r.get("e2e") and r["protocol"] == KEPT]
    if not runs:
        return []
    table = []
    for r in runs:
        h = r["e2e"]
        table.append({"run": r["model"], "encoder lr": f"{h['encoder']['encoder_lr']:g}",
                      "recommender lr": f"{h['recommender_lr']:g}" if "recommender_lr" in h else "—",
                      "valid ndcg@10: start → per epoch": f"{h['start_valid_ndcg@10']:.4f} → "
                      + ", ".join(f"{e['valid_ndcg@10']:.4f}" for e in h["epochs"]),
                      "s/epoch": f"{sum(e['seconds'] for e in h['epochs']) / max(1, len(h['epochs'])):.1f}",
                      "kept epoch": h["best_epoch"] if h["best_epoch"] >= 0 else "start"})
    enc = runs[-1]["e2e"]["encoder"]
    return ["## End-to-end tuning (TransRec-style): CPU cost against gain", "",
            f"Tuned: the last {enc['n_tuned_layers']} of {enc['n_layers']} MiniLM layers "
            f"({enc['tuned_parameters']:,} parameters), {enc['items_per_step']} re-encoded items per step, the "
            f"rest from a cache of lower-layer token states ({enc['bottom_cache_bytes'] / 2 ** 20:.0f} MiB, built in "
            f"{runs[-1].get('bottom_cache_s', '?')} s) refreshed once per epoch. Both runs continue the same fitted "
            "SASRec-text; the control has the encoder frozen and the same schedule, so the difference is the "
            "encoder tuning.", "", format_table(table, list(table[0])), ""] + ([
            "**Open defect.** Validation collapses in the tuned runs from the first cache refresh on, at both "
            "encoder learning rates, while the frozen control holds. The runs keep their starting weights "
            "(best on validation), so their test rows equal the starting model's and show no gain from tuning. "
            "The suspected cause is the per-dimension standardisation of the text vectors: it is fitted once, at "
            "the start, and magnifies the drift of low-variance dimensions. Earlier versions had two other "
            "faults, now fixed and tested: the encoder was frozen by the control run, and dropout-noised "
            "fresh rows let the recommender spot the batch's targets.", ""]
            if any(r["e2e"]["encoder"]["encoder_lr"] > 0 and min(e["valid_ndcg@10"] for e in r["e2e"]["epochs"])
                   < 0.1 * r["e2e"]["start_valid_ndcg@10"] for r in runs) else [
            "Reading: at this budget, tuning the encoder's top layers does not beat its own starting point on "
            "validation, and it costs about three times a frozen epoch. Where a run keeps its starting weights, "
            "its test row equals the starting model's. Three faults were fixed on the way to this result, each "
            "with a test: the control run froze the encoder for the tuned runs; dropout-noised fresh rows let the "
            "recommender spot the batch's targets; and a standardisation fitted once, at the start, magnified "
            "drift until validation collapsed. The standardisation is now refitted at every refresh.", ""])


def render(doc: dict, command: str) -> None:
    from lmrec.evaluation.results import environment_info, format_table, write_json_atomic

    facts = doc.get("facts", {})
    command = " && ".join(doc.get("commands") or [command])  # the runs that made the rows
    main_rows = [r for r in doc["rows"] if r.get("target_training") in ("none", "100%")] + core_rows()
    note = ("CPU budget: pre-training is bounded (see pretraining.unisrec.training: epochs and wall time), "
            "sources sampled to at most max_users_per_domain users per domain, fine-tuning capped by wall time; "
            "seeds as listed per row (1 seed where only one is listed).")
    if not any(r.get("e2e") for r in doc["rows"]):
        note += (" The end-to-end tuned (TransRec-style) row was not run within the CPU budget; "
                 "`--stage e2e` produces it.")
    sci = {"table": "Transfer to Amazon Scientific: zero-shot, UniSRec fine-tuning, fusion (UniSRec protocol)",
           "command": command, "commands": doc.get("commands", []), "note": note, "references": REFERENCES,
           "pretraining": facts.get("pretraining"), "fixes": facts.get("fixes", []), "rows": main_rows, "versions": environment_info()}
    lodo_rows = [r for r in doc["rows"] if r["protocol"] == KEPT]
    lodo = {"table": "Leave-one-domain-out: Scientific held out (pre-trained on Food, Kitchen, Magazine, Gift Cards, "
                     "Appliances)", "command": command, "note": note + " Few-shot: share of target training users "
                     "kept (valid/test cases unchanged).", "held_out": TARGET,
            "sources": SOURCES, "overlap_check": (facts.get("pretraining") or {}).get("overlap_check"),
            "refused_same_domain": (facts.get("pretraining") or {}).get("refused_same_domain"),
            "rows": lodo_rows, "versions": environment_info()}
    sci, lodo = repo_relative(sci), repo_relative(lodo)  # pre-trained checkpoints as the repository sees them
    write_json_atomic(RESULTS / "transfer_scientific.json", sci)
    write_json_atomic(RESULTS / "leave_one_domain_out.json", lodo)
    cols = ["model", "target data", "seeds", *METRICS[:4], "cold r@10", "wall_s", "stopped@best epoch"]
    ref = format_table([{"model": r["model"], "source": r["source"], **{k: r["metrics"].get(k) for k in METRICS[:4]}}
                        for r in REFERENCES], ["model", "source", *METRICS[:4]])
    pre = facts.get("pretraining") or {}
    lines = [f"# {sci['table']}", "", f"Command(s): {'; '.join(f'`{c}`' for c in doc.get('commands', []))}", "",
             f"Note: {note}", ""]
    fixes = facts.get("fixes") or []
    notes = sorted({f"{r['model']} (target data {r.get('target_training', '?')}): {r['note']}"
                    for r in doc["rows"] if r.get("note")})
    extra_md = (([f"Fix: {f}" for f in fixes] + [""] if fixes else [])
                + ([f"Row note — {n}" for n in notes] + [""] if notes else []))
    lines += extra_md
    if pre:
        ep = [e for e in pre["unisrec"]["training"]["epochs"] if e["epoch"] >= 0]  # -1: the untrained net
        lines += [f"Pre-training: {len(pre['multidomain']['domains'])} source domains, "
                  f"{pre['multidomain']['n_items']} items, {pre['unisrec']['training']['n_examples']} examples; "
                  f"UniSRec {len(ep)} epoch(s) in {pre['unisrec']['training']['train_seconds']:.0f}s "
                  f"(stopped: {pre['unisrec']['training']['stopped']}, last loss {ep[-1]['loss']}); "
                  f"ZESRec {pre['zesrec']['training']['train_seconds']:.0f}s; encoding {pre['encode_s']:.0f}s. "
                  f"Word drop: {pre['word_drop']}.", ""]
    for proto in (KEPT, EXCL):
        rs = [r for r in main_rows if r["protocol"] == proto]
        if rs:
            lines += [f"## {proto}", "", format_table(_group(rs), cols), ""]
            if proto == KEPT:
                lines += ["Published reference numbers (same files, RecBole full sort):", "", ref, ""]
    lines += id_vs_text_section(main_rows)
    lines += e2e_section(main_rows)
    lines += ["Rows marked 'in-domain' SASRec are copied from `bench/results/core_sequential.json` (not re-run).",
              "stopped@best epoch: `time` = stopped by the wall-time cap (under-trained), `patience` = early stopping.",
              "Cold r@10: Recall@10 over test cases whose target has no training interaction (n = cases).", ""]
    (RESULTS / "transfer_scientific.md").write_text("\n".join(lines))
    ll = [f"# {lodo['table']}", "", f"Protocol: {KEPT}", "", f"Note: {lodo['note']}", "", *extra_md]
    if pre:
        ll += ["Overlap check (source vs held-out target):", "",
               format_table([{k: s[k] for k in ("dataset", "n_items", "shared_ids", "shared_titles", "share")}
                             for s in pre["overlap_check"]["sources"]],
                            ["dataset", "n_items", "shared_ids", "shared_titles", "share"]), "",
               "Shared items were removed from the source sequences before pre-training. "
               + (f"Refused as a source: `{SAME_DOMAIN}` — {pre['refused_same_domain']['message'][:300]}…"
                  if pre.get("refused_same_domain") else ""), ""]
    order = ["none", "1%", "5%", "20%", "100%"]
    rs = sorted(lodo_rows, key=lambda r: (order.index(r.get("target_training", "100%"))
                                          if r.get("target_training") in order else 9, r["model"]))
    ll += [format_table(_group(rs), cols), "", "Reference (VQ-Rec Table 3, zero-shot on Scientific): ZESRec R@10 "
           "0.0851 / N@10 0.0475; VQ-Rec zero-shot 0.0640 / 0.0361. Target for our zero-shot: R@10 ≥ 0.0994.", ""]
    (RESULTS / "leave_one_domain_out.md").write_text("\n".join(ll))
    print(f"wrote {RESULTS / 'transfer_scientific.json'} and {RESULTS / 'leave_one_domain_out.json'} (+ .md)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["pretrain", "zesrec", "scientific", "fewshot", "e2e", "render"],
                    required=True)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--models", nargs="+", default=["zero-shot", "scratch", "inductive", "transductive", "fusion"])
    ap.add_argument("--max-users-per-domain", type=int, default=3000)
    ap.add_argument("--pretrain-epochs", type=int, default=20)
    ap.add_argument("--pretrain-seconds", type=float, default=240.0)
    ap.add_argument("--zesrec-seconds", type=float, default=60.0)
    ap.add_argument("--zesrec-epochs", type=int, default=20)
    ap.add_argument("--zesrec-lr", type=float, default=1e-3)
    ap.add_argument("--finetune-seconds", type=float, default=100.0)
    ap.add_argument("--fusion-seconds", type=float, default=150.0)
    ap.add_argument("--fewshot-seconds", type=float, default=45.0)
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.01, 0.05, 0.2])
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--e2e-base-seconds", type=float, default=150.0)
    ap.add_argument("--e2e-epochs", type=int, default=2)
    ap.add_argument("--e2e-layers", type=int, default=1)
    ap.add_argument("--e2e-rec-lr-scale", type=float, default=0.1,
                    help="recommender learning rate during the end-to-end continuation, as a share of its own")
    ap.add_argument("--encoder-lr", type=float, nargs="+", default=[5e-5],
                    help="one end-to-end run per encoder learning rate (plus the frozen control)")
    ap.add_argument("--train-transformer", action="store_true", help="fine-tune with the Transformer trained")
    args = ap.parse_args(argv)
    if not os.environ.get("LMREC_DATA_DIR"):
        sys.exit("set LMREC_DATA_DIR (e.g. ../shared/datasets)")
    work_dir().mkdir(parents=True, exist_ok=True)
    doc = load_rows()
    command = "python bench/transfer_benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.stage != "render":
        {"pretrain": stage_pretrain, "scientific": stage_scientific, "fewshot": stage_fewshot,
         "e2e": stage_e2e, "zesrec": stage_zesrec}[args.stage](args, doc)
        doc["commands"] = [c for c in doc.get("commands", []) if c != command
                           and not (args.stage == "e2e" and "--stage e2e" in c)] + [command]  # e2e rows are replaced
        save_rows(doc)
    render(doc, command)


if __name__ == "__main__":
    main()
