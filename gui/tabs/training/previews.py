"""What the Training tab's preview grid shows for a PreviewReady event: rows, their titles and the captions
under each column, by the kind of training (a plain autoencoder, a denoiser, a self-supervised denoiser)."""
from __future__ import annotations

import numpy as np

from engine.core.config import SELF_SUPERVISED_KINDS
from engine.core.events import PreviewReady


def preview_rows(event: PreviewReady, config) -> tuple[list[np.ndarray], list[str], list[str]] | None:
    """(rows, row titles, captions), or None for data with no picture (tables). `config`: the TrainConfig of
    the run, if known."""
    if event.inputs.ndim != 4:
        return None
    if config is not None and config.model_kind in SELF_SUPERVISED_KINDS:
        return _self_supervised(event, config.denoising)
    errors = ((event.targets - event.outputs) ** 2).reshape(len(event.targets), -1).mean(axis=1)
    rows, titles = [event.targets, event.outputs], ["original", "reconstructed"]
    if config is not None and config.denoising:
        rows.insert(1, event.inputs)
        titles.insert(1, "noisy input")
    return rows, titles, [f"{e:.4f}" for e in errors]


def _self_supervised(event: PreviewReady, has_clean: bool):
    """Noisy crops over their denoised versions; with clean copies (noise added on purpose) the clean row on
    top and PSNR captions, else how much noise was taken out (RMS, 0-255 scale)."""
    if has_clean:
        mse = ((event.targets - event.outputs) ** 2).reshape(len(event.targets), -1).mean(axis=1)
        captions = [f"{10 * np.log10(1 / max(e, 1e-12)):.2f} dB" for e in mse]
        return ([event.targets, event.inputs, event.outputs], ["clean (only scores)", "noisy input", "denoised"],
                captions)
    removed = np.sqrt(((event.inputs - event.outputs) ** 2).reshape(len(event.inputs), -1).mean(axis=1))
    return [event.inputs, event.outputs], ["noisy input", "denoised"], [f"removed {255 * r:.1f}" for r in removed]
