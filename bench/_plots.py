"""PNG renderings of benchmark tables (matplotlib, the optional ``bench`` extra).

Each function takes a results document as written by its benchmark script (the committed JSON),
draws one figure and writes it atomically next to the table; ``--plot-only`` in the scripts
calls them on the committed JSON without rerunning the benchmark.
"""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path) -> Path:
    plt = _pyplot()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    print(f"wrote {out}", flush=True)
    return out


def plot_compression(doc: dict, out: Path) -> Path:
    """NDCG@10 vs bytes per item (log x), one panel per (dataset, history protocol), one line per model.

    Settings of the same family (fp32 → fp16 → int8, PCA, truncation, whitening, OPQ) are points
    labelled with their setting name; the dashed line is the model's fp32 NDCG@10.
    """
    plt = _pyplot()
    panels = list(dict.fromkeys((r["dataset"], r["protocol"]) for r in doc["rows"]))
    cols = 2
    rows_n = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(7 * cols, 4.6 * rows_n), squeeze=False)
    for ax, (dataset, protocol) in zip(axes.flat, panels):
        rows = [r for r in doc["rows"] if r["dataset"] == dataset and r["protocol"] == protocol]
        for i, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
            mr = sorted((r for r in rows if r["model"] == model), key=lambda r: r["bytes_per_item"])
            xs = [r["bytes_per_item"] for r in mr]
            ys = [r["metrics"]["ndcg@10"] for r in mr]
            ax.scatter(xs, ys, color=f"C{i}", label=model, s=30)
            for r, x, y in zip(mr, xs, ys):
                ax.annotate(r["setting"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            ref = [r for r in mr if r["setting"].startswith("fp32")]
            if ref:
                ax.axhline(ref[0]["metrics"]["ndcg@10"], color=f"C{i}", ls="--", lw=0.8)
        hist = protocol.split("; ")[2] if protocol.count("; ") >= 2 else protocol
        ax.set_title(f"{dataset}\n{hist}", fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bytes per item (log2)")
        ax.set_ylabel("NDCG@10 (full ranking)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Compressed item text vectors: quality vs bytes per item (dashed: fp32)", fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def plot_serve_load(doc: dict, out: Path) -> Path:
    """/recommend latency percentiles (p50, p90, p99 at the paced load) per model and index kind.

    One group of bars per row (``model / index kind, ef_search``); the top-10 agreement with the
    exact index is written above HNSW groups; the saturation p99 is a black tick.
    """
    plt = _pyplot()
    rows = sorted(doc["rows"], key=lambda r: (r["model"], r["index_kind"] != "flat", r.get("ef_search") or 64))
    labels, groups = [], []
    for r in rows:
        ef = "" if r["index_kind"] == "flat" else f" ef={r.get('ef_search') or 64}"
        labels.append(f"{r['model']}\n{r['index_kind']}{ef}")
        paced = r.get("paced", {})
        groups.append((paced.get("p50_ms", r["metrics"]["p50_ms"]), paced.get("p90_ms"),
                       paced.get("p99_ms", r["metrics"]["p99_ms"]), r.get("saturation", {}).get("p99_ms"),
                       r["metrics"].get("recall@10_vs_exact")))
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(rows)), 4.8))
    width = 0.26
    for j, (name, color) in enumerate((("p50", "C0"), ("p90", "C1"), ("p99", "C3"))):
        xs = [i + (j - 1) * width for i in range(len(rows))]
        ax.bar(xs, [g[j] or 0 for g in groups], width, label=f"{name} (paced)", color=color)
    ax.scatter(range(len(rows)), [g[3] for g in groups], marker="_", s=300, color="black",
               label="p99 at saturation", zorder=3)
    for i, g in enumerate(groups):
        if g[4] is not None:
            ax.annotate(f"top-10 vs exact {g[4]:.0%}", (i, max(x for x in g[:4] if x)), fontsize=7,
                        ha="center", xytext=(0, 6), textcoords="offset points")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("POST /recommend latency, ms")
    n_items = doc["rows"][0]["metrics"].get("n_items")
    ax.set_title(f"Serving latency by index kind ({n_items:,} items, 2 CPU cores, locust on loopback)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)
