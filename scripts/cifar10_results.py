#!/usr/bin/env python3
"""Build docs/results/cifar10.md and cifar10.png from the runs of scripts/cifar10_experiments.sh.

    python scripts/cifar10_results.py runs/cifar10

Reads each run's summary.json (accuracy, epochs, wall time, the exact command) and the MSP
run's final checkpoint (per-layer row schemes, read with numpy alone).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROWS = [  # run folder, model, description
    ("resnet20-float", "ResNet-20", "float"),
    ("resnet20-fixed4", "ResNet-20", "all rows fixed-4 (W4A4)"),
    ("resnet20-sp2_4", "ResNet-20", "all rows SP2-4 (W4A4)"),
    ("resnet20-pow2_4", "ResNet-20", "all rows power-of-two 4-bit (W4A4)"),
    ("resnet20-msp", "ResNet-20", "MSP mixed, pynq-z2 ratio (W4A4)"),
    ("resnet20-msp8", "ResNet-20", "MSP mixed + 5% 8-bit rows (A4)"),
    ("resnet20-msp8-exact", "ResNet-20", "the row above + 3 epochs integer-exact (deployed bundle)"),
    ("cnv-float", "CNV", "float"),
    ("cnv-msp8", "CNV", "MSP mixed + 5% 8-bit rows (A4)"),
]
SCHEME_NAMES = ["fixed4", "fixed8", "sp2_4", "pow2_4"]      # msp_pynq.quant.levels order
PUBLISHED = [("CNV-W1A1 (FINN, Pynq-Z1)", 84.2), ("CNV-W2A2 (Brevitas/FINN)", 89.0)]


def load_runs(root: Path) -> dict:
    runs = {}
    for name, _, _ in ROWS:
        path = root / name / "summary.json"
        if path.exists():
            runs[name] = json.loads(path.read_text())
    return runs


def layer_mix(checkpoint: Path) -> "list[tuple[str, dict]]":
    with np.load(checkpoint, allow_pickle=False) as data:
        order = [k for k in data.files if k.startswith("model/") and k.endswith(".scheme_ids")]
        return [(k[6:-len(".scheme_ids")],
                 {SCHEME_NAMES[i]: int(n) for i, n in enumerate(np.bincount(data[k], minlength=4)) if n})
                for k in order]


def plot(runs: dict, mix: list, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 1.5 + 0.55 * len(runs)), gridspec_kw={"width_ratios": [1, 1.3]})
    labels, values, colors = [], [], []
    for name, model, desc in ROWS:
        if name in runs:
            labels.append(f"{model}\n{desc.replace(' (', chr(10) + '(')}")
            values.append(100 * runs[name]["val_acc"])
            colors.append("#888" if "float" in name else "#2a7" if "msp" in name else "#48c")
    ax1.barh(labels[::-1], values[::-1], color=colors[::-1])
    for y, v in enumerate(values[::-1]):
        ax1.text(v + 0.2, y, f"{v:.2f}", va="center", fontsize=8)
    for label, acc in PUBLISHED:
        ax1.axvline(acc, ls=":", color="#c33", lw=1)
        ax1.text(acc, len(values) - 0.45, label, fontsize=7, color="#c33", ha="center", va="bottom")
    lo = min(values + [a for _, a in PUBLISHED])
    ax1.set_xlim(lo - 1.5, max(values + [a for _, a in PUBLISHED]) + 1.5)
    ax1.set_ylim(-0.6, len(values) + 0.3)
    ax1.set_xlabel("validation top-1 (%)")
    ax1.tick_params(axis="y", labelsize=7)
    ax1.set_title("CIFAR-10 validation accuracy by weight scheme")
    if mix:
        names = [n for n, _ in mix]
        bottom = np.zeros(len(mix))
        for scheme, color in (("sp2_4", "#2a7"), ("fixed4", "#48c"), ("fixed8", "#e92")):
            counts = np.array([m.get(scheme, 0) / sum(m.values()) for _, m in mix])
            ax2.bar(range(len(mix)), counts, bottom=bottom, color=color, label=scheme)
            bottom += counts
        ax2.set_xticks(range(len(mix)), names, rotation=75, fontsize=6)
        ax2.set_ylabel("share of rows")
        ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=3, fontsize=8)
        ax2.set_title("ResNet-20 MSP + 8-bit: row schemes per layer")
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def main(root: str = "runs/cifar10", out: str = "docs/results") -> int:
    root_p, out_p = Path(root), Path(out)
    runs = load_runs(root_p)
    out_p.mkdir(parents=True, exist_ok=True)
    logs = out_p / "runs"                # each run's summary and per-epoch log, committed
    logs.mkdir(exist_ok=True)
    for name in runs:
        shutil.copy(root_p / name / "summary.json", logs / f"{name}.json")
        shutil.copy(root_p / name / "log.csv", logs / f"{name}.csv")
    lines = ["| model | weights | val top-1 | vs float | epochs | wall time | command |",
             "|---|---|---:|---:|---:|---:|---|"]
    for name, model, desc in ROWS:
        r = runs.get(name)
        if r is None:
            lines.append(f"| {model} | {desc} | not run yet | | | | |")
            continue
        base = runs.get(f"{name.split('-')[0]}-float")
        delta = f"{100 * (r['val_acc'] - base['val_acc']):+.2f}" if base and base is not r else ""
        lines.append(f"| {model} | {desc} | {100 * r['val_acc']:.2f}% | {delta} | {r['epochs']} | "
                     f"{r['train_seconds'] / 60:.0f} min | `{r.get('command', '')}` |")
    ckpt = root_p / "resnet20-msp8" / "final.npz"
    mix = layer_mix(ckpt) if ckpt.exists() else []
    if runs:
        plot(runs, mix, out_p / "cifar10.png")
    text = ["# CIFAR-10 results", "",
            "Validation split: files 4500-4999 of every class (5,000 images) of the JPEG CIFAR-10 "
            "in `../shared/datasets/cifar10`; training on files 0000-4499. Produced by "
            "`make cifar10-results` (`scripts/cifar10_experiments.sh`, then "
            "`scripts/cifar10_results.py`); every number below was measured by that command. "
            "Quantized rows keep the first and last layers at 8 bits; activations are 4-bit "
            "(pooled features 8-bit). Wall time is the sum of the epoch times on the 2-core machine, "
            "which at times ran other jobs beside the training, so it varies between runs.", "", *lines, "",
            "Published references (not measured here, original lossless CIFAR-10 test set): "
            + "; ".join(f"{n} {a}%" for n, a in PUBLISHED) + ".", ""]
    if runs:
        text += ["![accuracy by scheme and per-layer row mix](cifar10.png)", ""]
    agreement = out_p / "cifar10_agreement.md"
    if agreement.exists():             # written by scripts/cifar10_agreement.py
        body = agreement.read_text().split("\n", 2)[2]
        text += ["## Agreement: PyTorch vs onnxruntime vs the emulator on the bundle", "", body.strip(), ""]
    if mix:
        text += ["Per-layer rows of the MSP + 8-bit ResNet-20:", "",
                 "| layer | " + " | ".join(SCHEME_NAMES[:3]) + " |", "|---|---:|---:|---:|"]
        text += [f"| {n} | " + " | ".join(str(m.get(s, 0)) for s in SCHEME_NAMES[:3]) + " |" for n, m in mix]
    (out_p / "cifar10.md").write_text("\n".join(text) + "\n")
    print(f"wrote {out_p / 'cifar10.md'} ({len(runs)} of {len(ROWS)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
