"""Transferability report as one library call: which source domains are close to which targets.

``lmrec transfer-report --targets T1,T2 --sources S1,S2 --out DIR`` calls
:func:`run_transfer_report`, which

1. loads every dataset by name (an unknown name is refused with the list of available ones)
   and encodes its item texts with the text encoder through the embedding cache
   (:func:`lmrec.pipeline.encode_items`, the same vectors as ``lmrec train``);
2. scores every (source, target) pair with source ≠ target from the item vectors alone
   (:func:`lmrec.evaluation.transferability.domain_similarity`: centroid cosine, RBF MMD²,
   share of target items with a close nearest source item);
3. with ``gains``, reads the transfer gain of each pair from a results JSON
   (:func:`lmrec.evaluation.transferability.gains_from_results`);
4. with ``pretrained`` (a ``lmrec pretrain`` directory of a UniSRec model), reports the MoE
   gate's mean weight per expert for every domain of the report and of the pre-training
   (:func:`lmrec.evaluation.expert_usage.expert_usage_by_domain`) — shared vs domain-specific
   experts;
5. writes ``DIR/transfer_report.json``, ``DIR/transfer_report.md`` and
   ``DIR/transfer_heatmap.png`` (matplotlib, the ``bench`` extra), each atomically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lmrec.evaluation.expert_usage import expert_usage_by_domain, usage_summary
from lmrec.evaluation.transferability import (MMD_MAX_ITEMS, NN_THRESHOLD, domain_similarity, gain_matrix,
                                              gains_from_results)

JSON_NAME, MD_NAME, PNG_NAME = "transfer_report.json", "transfer_report.md", "transfer_heatmap.png"
SCORES = ("centroid_cosine", "mmd_rbf", "nn_close_share", "nn_mean_cosine")


def _names(values: list[str], flag: str) -> list[str]:
    out = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if not out:
        raise ValueError(f"give at least one dataset name ({flag} A,B)")
    return out


def _encode(names: list[str], encoder: str | None, data_dir: str | None, cache_dir: str | None,
            echo: Callable[[str], Any], *, review_fallback: bool = False
            ) -> tuple[dict[str, np.ndarray], dict[str, dict], dict]:
    """Item vectors ``{name: float32 [n_items, dim]}``, per-dataset facts and the encoder identity.

    ``review_fallback``: items without text get text from their reviews, as pre-training
    sources do (:func:`lmrec.data.multidomain.review_text_fallback`)."""
    from lmrec.data.multidomain import review_text_fallback
    from lmrec.data.registry import load_dataset
    from lmrec.pipeline import ExperimentConfig, encode_items

    datasets = {n: load_dataset(n, data_dir) for n in names}      # every name checked before encoding
    if review_fallback:
        datasets = {n: review_text_fallback(ds) for n, ds in datasets.items()}
    vectors, facts, identity = {}, {}, {}
    for name, ds in datasets.items():
        cfg = ExperimentConfig(dataset=name, model="embknn", data_dir=data_dir, encoder=encoder, cache_dir=cache_dir)
        vec, rep = encode_items(ds, cfg)
        vectors[name] = np.asarray(vec, dtype=np.float32)
        identity = rep["encoder"]
        facts[name] = {"n_items": int(len(vec)), "n_empty_text": int(rep["text"].get("n_empty", 0)),
                       "encode_wall_s": rep.get("wall_s")}
        echo(f"encoded {name}: {len(vec)} items ({facts[name]['n_empty_text']} with empty text)")
    return vectors, facts, identity


def _load_pretrained(pretrained: str | Path, encoder: str | None):
    """The UniSRec :class:`~lmrec.models.pretrained.PretrainedModel` at ``pretrained``, checked
    against ``encoder`` before anything is encoded."""
    from lmrec.encoders.factory import load_encoder
    from lmrec.models.pretrained import PretrainedModel

    pre = PretrainedModel.from_pretrained(pretrained, encoder=load_encoder(encoder))
    if pre.kind != "unisrec":
        raise ValueError(f"{pretrained}: a {pre.kind!r} pre-training has no mixture-of-experts gate; expert usage "
                         "needs a UniSRec pre-training (`lmrec pretrain --model unisrec`)")
    return pre


def _expert_usage(pre, vectors: dict[str, np.ndarray], encoder: str | None, data_dir: str | None,
                  cache_dir: str | None, echo: Callable[[str], Any]) -> dict[str, Any]:
    from lmrec.data.registry import UnknownDatasetError
    from lmrec.models.unisrec import build_unisrec_net

    net = build_unisrec_net(pre.text_dim, pre.config)
    net.load_state_dict(pre.state)
    pre_domains = [d["name"] for d in pre.pretraining.get("domains", {}).get("domains", [])]
    skipped = {}
    for name in (d for d in pre_domains if d not in vectors):
        try:
            vectors = {**vectors, **_encode([name], encoder, data_dir, cache_dir, echo, review_fallback=True)[0]}
        except (UnknownDatasetError, FileNotFoundError, ValueError) as exc:
            skipped[name] = str(exc).split(";")[0]
    usage = expert_usage_by_domain(net.adaptor, vectors)
    return {"pretrained": str(pre.path), "n_experts": len(next(iter(usage.values()))),
            "pretraining_domains": pre_domains, "not_loaded": skipped,
            "pretraining": {"source_datasets": pre.pretraining.get("source_datasets"),
                            "config": {k: pre.pretraining.get("config", {}).get(k) for k in
                                       ("epochs", "max_train_seconds", "batch_size", "seed")},
                            "max_users_per_domain": pre.pretraining.get("domains", {}).get("max_users_per_domain"),
                            "epochs_run": len(pre.pretraining.get("training", {}).get("epochs", [])),
                            "wall_s": pre.pretraining.get("wall_s")},
            "vectors": "each domain's whole catalogue, item texts as encoded by lmrec.pipeline.encode_items; "
                       "pre-training domains not in the report with the review-text fallback of pre-training",
            "domains": [{"name": n, "pretraining_domain": n in pre_domains, "n_items": int(len(vectors[n])),
                         "usage": [float(u) for u in usage[n]], **usage_summary(usage[n])} for n in usage]}


def build_transfer_report(targets: list[str], sources: list[str], *, gains: str | Path | None = None,
                          gain_metric: str = "ndcg@10", baseline_model: str | None = None,
                          pretrained: str | Path | None = None, encoder: str | None = None,
                          data_dir: str | None = None, cache_dir: str | None = None,
                          threshold: float = NN_THRESHOLD, max_mmd_items: int = MMD_MAX_ITEMS, seed: int = 0,
                          echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """Compute the transferability report (see the module docstring); writes nothing.

    Parameters
    ----------
    targets, sources:
        Dataset names (``lmrec datasets``; a domain of a multi-domain set as
        ``amazon-food-kitchen-llmcdsr:food``). Pairs with source == target are skipped.
    gains:
        A results JSON (``bench/results/*.json`` shape) with transfer rows naming their
        ``source``/``sources``; ``None``: no gain column.
    gain_metric, baseline_model:
        Metric compared and the model of the baseline rows (see
        :func:`~lmrec.evaluation.transferability.gains_from_results`).
    pretrained:
        A ``lmrec pretrain`` UniSRec directory for per-domain expert usage.
    encoder, data_dir, cache_dir:
        Text encoder (``None``: the packaged all-MiniLM-L6-v2), data folder and embedding cache.
    threshold, max_mmd_items, seed:
        Nearest-neighbour closeness cosine, MMD subsample cap per side, MMD subsample seed.

    Returns
    -------
    The JSON-serialisable report: ``targets``, ``sources``, ``encoder``, ``settings``,
    ``datasets``, ``pairs`` (one dict of scores per pair, with its ``wall_s``), ``matrix``
    (``[len(targets)][len(sources)]`` lists per score, ``None`` on source == target, plus
    ``gain``), ``gains``, ``expert_usage``, ``wall_s``.

    Raises
    ------
    ValueError
        If no pair has source ≠ target, for bad gains files or an unusable pre-trained directory.
    UnknownDatasetError
        (a ``KeyError``) For an unknown dataset name; the message lists the available ones.
    FileNotFoundError
        For a missing gains file or pre-trained directory.
    """
    t0 = time.perf_counter()
    targets, sources = _names(targets, "--targets"), _names(sources, "--sources")
    pairs = [(s, t) for t in targets for s in sources if s != t]
    if not pairs:
        raise ValueError(f"targets and sources are the same dataset ({targets[0]!r}): a transferability report "
                         "compares different domains; add another --sources or --targets")
    gains_doc = None
    if gains is not None:
        path = Path(gains)
        if not path.is_file():
            raise FileNotFoundError(f"gains file {path} not found; pass a results JSON such as "
                                    "bench/results/leave_one_domain_out.json")
        try:
            gains_doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"gains file {path}: not valid JSON ({exc})") from None
    pre = _load_pretrained(pretrained, encoder) if pretrained else None
    vectors, facts, identity = _encode(list(dict.fromkeys(targets + sources)), encoder, data_dir, cache_dir, echo)
    rows = []
    for s, t in pairs:
        t_pair = time.perf_counter()
        sim = domain_similarity(vectors[s], vectors[t], threshold=threshold, max_mmd_items=max_mmd_items, seed=seed)
        rows.append({"source": s, "target": t, **sim, "wall_s": round(time.perf_counter() - t_pair, 2)})
        echo(f"{s} -> {t}: centroid cosine {sim['centroid_cosine']:.3f}, MMD² {sim['mmd_rbf']:.4f}, "
             f"nn ≥ {threshold}: {sim['nn_close_share']:.1%}")
    by_pair = {(r["source"], r["target"]): r for r in rows}
    matrix: dict[str, Any] = {"rows": targets, "columns": sources}
    for key in SCORES:
        matrix[key] = [[by_pair[(s, t)][key] if (s, t) in by_pair else None for s in sources] for t in targets]
    if gains_doc is not None:
        gain = gains_from_results(gains_doc, targets, metric=gain_metric, baseline_model=baseline_model,
                                  where=str(gains))
        gain["file"] = str(gains)
        matrix["gain"] = gain_matrix(gain, targets, sources)
        if gain["note"]:
            echo(f"note: {gain['note']}")
    else:
        gain = {"file": None, "entries": [], "note": "no --gains results file given; gain column left empty"}
        matrix["gain"] = None
    usage = _expert_usage(pre, vectors, encoder, data_dir, cache_dir, echo) if pre is not None else None
    return {"targets": targets, "sources": sources, "encoder": identity,
            "settings": {"nn_threshold": threshold, "mmd_max_items": max_mmd_items, "seed": seed,
                         "mmd": "unbiased MMD², RBF kernel, median-heuristic bandwidth (Gretton et al., JMLR 2012)",
                         "vectors": "L2-normalised item text vectors; all-zero rows (empty text) skipped"},
            "datasets": facts, "pairs": rows, "matrix": matrix, "gains": gain, "expert_usage": usage,
            "wall_s": round(time.perf_counter() - t0, 2)}


# ------------------------------------------------------------------------------ rendering
def render_transfer_markdown(report: dict[str, Any]) -> str:
    """Markdown of a report from :func:`build_transfer_report`: one table per score
    (targets × sources), the pair table, gains and expert usage."""
    from lmrec.evaluation.results import format_table

    m, sources = report["matrix"], report["sources"]
    thr = report["settings"]["nn_threshold"]
    titles = {"centroid_cosine": "Centroid cosine (mean L2-normalised item vectors)",
              "mmd_rbf": "MMD² (RBF, median bandwidth; 0 = same distribution)",
              "nn_close_share": f"Share of target items whose nearest source item has cosine ≥ {thr}",
              "nn_mean_cosine": "Mean nearest-source-item cosine of the target items",
              "gain": f"Gain ({report['gains'].get('metric', '')}) over the baseline"}
    parts = [f"Encoder: `{report['encoder'].get('model', report['encoder'])}`. Rows: target; columns: source; "
             "`—` where source = target."]
    for key in (*SCORES, "gain"):
        if m.get(key) is None:
            continue
        rows = [{"target": t, **{s: v for s, v in zip(sources, vals)}} for t, vals in zip(m["rows"], m[key])]
        parts += [f"### {titles[key]}", format_table(rows, ["target", *sources])]
    g = report["gains"]
    if g.get("entries"):
        parts += [f"### Gain rows ({g['file']})", format_table(
            [{**e, "sources": ", ".join(e["sources"])} for e in g["entries"]],
            ["target", "sources", "model", "baseline_model", "transfer", "baseline", "gain", "relative_gain", "seeds"])]
    if g.get("note"):
        parts.append(f"Gains: {g['note']}.")
    u = report.get("expert_usage")
    if u:
        k = u["n_experts"]
        rows = [{"domain": d["name"] + (" (pre-training)" if d["pretraining_domain"] else ""), "items": d["n_items"],
                 **{f"e{j}": d["usage"][j] for j in range(k)}, "entropy": d["entropy"]} for d in u["domains"]]
        parts += [f"### MoE expert usage per domain (mean gate weight; {u['pretrained']})",
                  format_table(rows, ["domain", "items", *[f"e{j}" for j in range(k)], "entropy"]),
                  "Entropy is normalised by log k (1: every expert used equally). "
                  + (f"Not loaded: {u['not_loaded']}." if u["not_loaded"] else "")]
    return "\n\n".join(parts) + "\n"


def _annotate(ax, im, data: np.ndarray) -> None:
    """Write each cell's value (``—`` for NaN) in black on light cells and white on dark ones."""
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = data[i, j]
            if np.isnan(v):
                ax.text(j, i, "—", ha="center", va="center", fontsize=8, color="grey")
                continue
            r, g, b, _ = im.cmap(im.norm(v))
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white")


def plot_transfer_heatmap(report: dict[str, Any], path: str | Path) -> Path:
    """Heat-map PNG: centroid cosine (and gain, and expert usage when present), annotated cells.

    Needs matplotlib (``pip install 'lmrec[bench]'``); written atomically.

    Raises
    ------
    ImportError
        Without matplotlib.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report["matrix"]
    panels = [("centroid_cosine", "centroid cosine", "viridis"), ("nn_close_share", "share nn cosine ≥ "
              f"{report['settings']['nn_threshold']}", "viridis")]
    if m.get("gain") is not None and any(v is not None for row in m["gain"] for v in row):
        panels.append(("gain", f"gain ({report['gains'].get('metric')})", "RdBu"))
    usage = report.get("expert_usage")
    n = len(panels) + (1 if usage else 0)
    widths = [max(len(report["sources"]), 2)] * len(panels) + ([usage["n_experts"]] if usage else [])
    n_rows = max(len(report["targets"]), 3, len(usage["domains"]) if usage else 0)
    fig, axes = plt.subplots(1, n, figsize=(1.0 + sum(2.4 + 0.9 * w for w in widths), 2.6 + 0.6 * n_rows),
                             squeeze=False, gridspec_kw={"width_ratios": widths})
    for ax, (key, title, cmap) in zip(axes[0], panels):
        data = np.array([[np.nan if v is None else v for v in row] for row in m[key]], dtype=float)
        lim = np.nanmax(np.abs(data)) if key == "gain" else None
        im = ax.imshow(data, cmap=cmap, vmin=-lim if lim else None, vmax=lim)
        _annotate(ax, im, data)
        ax.set_xticks(range(len(m["columns"])), [c.replace("amazon-", "") for c in m["columns"]], rotation=30,
                      ha="right", fontsize=7)
        ax.set_yticks(range(len(m["rows"])), [r.replace("amazon-", "") for r in m["rows"]], fontsize=7)
        ax.set_xlabel("source")
        ax.set_ylabel("target")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    if usage:
        ax = axes[0][-1]
        data = np.array([d["usage"] for d in usage["domains"]])
        im = ax.imshow(data, cmap="magma", vmin=0.0, vmax=max(float(data.max()), 1e-9))
        _annotate(ax, im, data)
        ax.set_xticks(range(data.shape[1]), [f"e{j}" for j in range(data.shape[1])], fontsize=7)
        ax.set_yticks(range(data.shape[0]), [d["name"].replace("amazon-", "") + (" *" if d["pretraining_domain"]
                                                                                   else "") for d in usage["domains"]],
                      fontsize=7)
        ax.set_title("MoE expert usage (* = pre-training domain)", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"Transferability from item texts ({report['encoder'].get('model', '')})", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110)
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def write_transfer_report(report: dict[str, Any], out: str | Path) -> dict[str, Path | None]:
    """Write ``out/transfer_report.{json,md}`` and ``out/transfer_heatmap.png``, each atomically.

    Without matplotlib the PNG is skipped and the JSON's ``heatmap`` says why (the path is
    ``None`` in the returned dict); everything else is written.
    """
    from lmrec.evaluation.results import write_json_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        png: Path | None = plot_transfer_heatmap(report, out / PNG_NAME)
        report = {**report, "heatmap": PNG_NAME}
    except ImportError:
        png = None
        report = {**report, "heatmap": "skipped: matplotlib is not installed (pip install 'lmrec[bench]')"}
    js = write_json_atomic(out / JSON_NAME, report)
    md_path = out / MD_NAME
    tmp = md_path.with_name(f".{md_path.name}.tmp")
    tmp.write_text("# Transferability report\n\n" + render_transfer_markdown(report), encoding="utf-8")
    tmp.replace(md_path)
    return {"json": js, "md": md_path, "png": png}


def run_transfer_report(targets: list[str], sources: list[str], out: str | Path, **kwargs: Any
                        ) -> tuple[dict[str, Any], dict[str, Path | None]]:
    """:func:`build_transfer_report` (``kwargs`` as there) then :func:`write_transfer_report`
    into ``out``; returns ``(report, written paths)``."""
    report = build_transfer_report(targets, sources, **kwargs)
    return report, write_transfer_report(report, out)
