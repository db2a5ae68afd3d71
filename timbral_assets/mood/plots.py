"""The mood model's figures for MLflow: out-of-fold predictions against the truth, and feature importances."""

from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def predicted_vs_true_figure(energy: np.ndarray, energy_pred: np.ndarray, valence: np.ndarray,
                             valence_pred: np.ndarray, max_points: int = 5_000):
    """Two hexbin panels (energy, valence) of out-of-fold predictions against the true values."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), dpi=90)
    for ax, name, truth, pred in ((axes[0], "energy", energy, energy_pred), (axes[1], "valence", valence, valence_pred)):
        ax.hexbin(truth, pred, gridsize=40, extent=(0, 1, 0, 1), cmap="Blues", mincnt=1, bins="log")
        ax.plot([0, 1], [0, 1], color="#c44e52", linewidth=1)
        rmse = float(np.sqrt(np.mean((np.asarray(truth) - np.asarray(pred)) ** 2)))
        ax.set_title(f"{name}: out-of-fold, RMSE {rmse:.3f}", fontsize=10)
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
    fig.tight_layout()
    plt.close(fig)
    return fig


def importance_figure(importances: list[dict], top: int = 15):
    """Horizontal bars of the top features' share of gain, one panel per model (energy, valence, moods)."""
    plt = _pyplot()
    models = [m for m in ("energy", "valence", "moods") if any(r["model"] == m for r in importances)]
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(5 * max(len(models), 1), 5), dpi=90, squeeze=False)
    for ax, model in zip(axes[0], models, strict=False):
        rows = [r for r in importances if r["model"] == model][:top][::-1]
        ax.barh([r["feature"][:30] for r in rows], [r["importance"] for r in rows], color="#4c72b0")
        ax.set_title(f"{model}: share of gain", fontsize=10)
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    plt.close(fig)
    return fig
