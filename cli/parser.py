"""The command line's arguments: `python main.py train|denoise|score|export ...` (argparse). Light: the
choices come from engine.core.config, which imports neither NumPy nor TensorFlow."""
from __future__ import annotations

import argparse
from typing import NoReturn

from engine.core.config import (CLASSICAL_DENOISERS, DATA_KINDS, EXPORT_FORMATS, EXPORT_PARTS, LOSSES,
                                MODEL_KINDS)

DISTRIBUTIONS = ("default", "mirrored", "multiworker")
CONFIG_SECTIONS = ("model", "data")
CLASSICAL = tuple(CLASSICAL_DENOISERS)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one "error: ..." line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser(prog: str = "main.py") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Autoencoder Studio: train, inspect and use autoencoders. Without a "
                     "command the desktop app opens; with one, it runs headless.",
                     epilog="Run `%(prog)s COMMAND --help` for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train an autoencoder (recorded in the run store)",
                       description="Train an autoencoder. Settings come from --config (a JSON object with optional "
                       '"model" (training settings) and "data" (data source) sections) and the flags below, which '
                       "override the file. The run is recorded in the run store. Ctrl-C stops after the current "
                       "batch and keeps the best model so far.")
    t.add_argument("--config", metavar="FILE.json", help="JSON settings file: {\"model\": {...}, \"data\": {...}}")
    t.add_argument("--kind", metavar="KIND", help=f"model kind: {', '.join(MODEL_KINDS)}")
    t.add_argument("--code-size", type=int, metavar="N", help="units in the code layer (latent size for VAE/AAE)")
    t.add_argument("--epochs", type=int, metavar="N", help="passes over the training data")
    t.add_argument("--batch-size", type=int, metavar="N", help="samples per gradient step")
    t.add_argument("--lr", type=float, metavar="RATE", help="learning rate (Adam)")
    t.add_argument("--loss", metavar="LOSS", help=f"loss: {', '.join(LOSSES)}")
    t.add_argument("--noise", type=float, metavar="FACTOR", help="input noise std for a denoising model (0 = off)")
    t.add_argument("--data", choices=DATA_KINDS, metavar="SOURCE",
                   help=f"data source: {', '.join(DATA_KINDS)} (default: array for a file given with --data-path, "
                        "folder for a folder, else mnist)")
    t.add_argument("--data-path", metavar="PATH", help="data file or folder")
    t.add_argument("--image-size", type=int, metavar="PX", help="image side for folder / patches data")
    t.add_argument("--color", choices=("grey", "rgb"), help="colour mode for folder / patches data")
    t.add_argument("--seed", type=int, metavar="N", help="random seed (model and data split)")
    t.add_argument("--distribute", choices=DISTRIBUTIONS, default=None,
                   help="tf.distribute strategy: default (one device), mirrored or multiworker (needs TF_CONFIG)")
    t.add_argument("--runs-dir", metavar="DIR", help="run store folder (default: $AES_RUNS_DIR or "
                   "~/.local/share/AutoencoderStudio/runs)")
    t.add_argument("--resume", metavar="RUN_ID", help="continue a recorded run from its last checkpoint (its own "
                   "settings and data; --epochs may raise the total)")
    t.add_argument("--rollback", metavar="RUN_ID", help="continue a recorded run from its best epoch with a tenth "
                   "of its learning rate (for a run that diverged or was no better than the mean sample)")
    t.add_argument("--on-diverge", choices=("stop", "rollback"), default="stop",
                   help="when the loss diverges (NaN, or no better than the mean sample): stop (default; exit 1 "
                        "on NaN) or roll back to the best epoch and continue with a tenth of the learning rate "
                        "(up to 3 times)")
    t.add_argument("--out", metavar="MODEL.keras", help="also save the kept model to this .keras file")

    d = sub.add_parser("denoise", help="denoise an image (bit depth kept)",
                       description="Denoise one image with the bundled model, a .keras denoiser or a classical "
                       "method, and write the result (16-bit PNG/TIFF input stays 16-bit).")
    d.add_argument("input", metavar="IN", help="image to denoise (.png .jpg .tif .bmp ...)")
    d.add_argument("output", metavar="OUT", help="where to write the result (.png .tif .jpg .bmp)")
    d.add_argument("--model", default="bundled", metavar="METHOD",
                   help=f"bundled (default), a FILE.keras denoiser, or a classical method: {', '.join(CLASSICAL)}")
    d.add_argument("--add-noise", type=float, metavar="SIGMA",
                   help="first add Gaussian noise of this sigma (0-255 scale) and print PSNR/SSIM vs the input")
    d.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the added noise (default 0)")
    d.add_argument("--strength", type=float, default=1.0, metavar="X",
                   help="scale the noise level a noise-aware model (the bundled one) is told: above 1 smooths more, "
                        "below 1 keeps more detail (0-4, default 1; the Denoise tab's Strength slider)")

    s = sub.add_parser("score", help="score data with an anomaly detector (.aedet)",
                       description="Score a table / series file (CSV, TSV) or a folder of images with a saved "
                       "anomaly detector and write the rows with anomaly_score, anomaly_flag and anomaly_score_kind "
                       "columns (the detector's saved score: plain or blurred reconstruction error).")
    s.add_argument("detector", metavar="DETECTOR.aedet", help="detector saved by the Anomaly tab")
    s.add_argument("data", metavar="DATA", help="CSV/TSV file (table or sequence detectors) or image folder")
    s.add_argument("--out", metavar="scored.csv", help="scored CSV to write (default: DATA's name + _scored.csv "
                   "in the current folder)")
    s.add_argument("--threshold", type=float, metavar="T", help="anomaly threshold (default: the detector's own)")

    e = sub.add_parser("export", help="export a model or detector (keras, savedmodel, tflite, onnx)",
                       description="Export a model (or a detector's model) and verify the export against it. "
                       "Writes a JSON metadata file beside it. For a detector the training scaler is the "
                       "input preprocessing and its threshold goes into the metadata.")
    e.add_argument("source", metavar="MODEL.keras|DETECTOR.aedet", help="model or detector file")
    e.add_argument("--format", dest="fmt", choices=tuple(EXPORT_FORMATS), default="keras", help="export format "
                   "(default keras)")
    e.add_argument("--part", choices=tuple(EXPORT_PARTS), default="model", help="whole model (default), encoder or decoder")
    e.add_argument("--out", required=True, metavar="TARGET", help="file (or folder, for savedmodel) to write")
    e.add_argument("--raw-input", action="store_true", help="build the input preprocessing (pixels / 255, or the "
                   "detector's standardisation) into the exported model so it takes raw values")
    return parser
