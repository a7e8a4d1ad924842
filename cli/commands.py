"""The command line's four commands (`train`, `denoise`, `score`, `export`) and the settings they
read; cli.app holds the parser, the error handling and the progress output.

Like cli.app this imports no TensorFlow, NumPy or Qt at module level."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from cli.app import (CLASSICAL, CONFIG_SECTIONS, INTERRUPTED, CliError, Stopped, existing_path, tell,
                        run_job)
from engine.core.config import ConfigError, DataSpec, TrainConfig

# ----------------------------------------------------------------------------- train

_FLAG_FIELDS = {"kind": "model_kind", "code_size": "code_size", "epochs": "epochs", "batch_size": "batch_size",
                "lr": "learning_rate", "loss": "loss", "noise": "noise_factor", "seed": "seed"}
_DATA_FLAGS = {"data": "kind", "data_path": "path", "image_size": "image_size", "color": "color", "seed": "seed"}


def read_config_file(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The "model" and "data" sections of a JSON settings file; CliError/ConfigError naming what is wrong."""
    file = existing_path(path, "Config file")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(f"{file.name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"Cannot read {file}: {exc}", 1) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f'{file.name} must hold a JSON object with "model" and/or "data" sections.')
    unknown = sorted(set(raw) - set(CONFIG_SECTIONS))
    if unknown:
        raise ConfigError(f"{file.name}: unknown section(s) {', '.join(unknown)}; use "
                          f'{" and ".join(repr(s) for s in CONFIG_SECTIONS)}.')
    sections = []
    for name in CONFIG_SECTIONS:
        section = raw.get(name, {})
        if not isinstance(section, dict):
            raise ConfigError(f'{file.name}: the "{name}" section must be a JSON object.')
        sections.append(dict(section))
    return sections[0], sections[1]


def train_settings(args: argparse.Namespace) -> tuple[TrainConfig, DataSpec]:
    """TrainConfig and DataSpec from --config and the flags (flags win)."""
    model, data = read_config_file(args.config) if args.config else ({}, {})
    for flag, name in _FLAG_FIELDS.items():
        if getattr(args, flag) is not None:
            model[name] = getattr(args, flag)
    for flag, name in _DATA_FLAGS.items():
        if getattr(args, flag) is not None:
            data[name] = getattr(args, flag)
    if "kind" not in data and data.get("path"):
        data["kind"] = "folder" if Path(data["path"]).is_dir() else "array"
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(model) - known)
    if unknown:
        raise ConfigError(f"Unknown model setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    config = TrainConfig.from_dict(model)
    fields = {f.name for f in dataclasses.fields(DataSpec)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"Unknown data setting(s): {', '.join(unknown)}; known: {', '.join(sorted(fields))}.")
    try:
        spec = DataSpec(**data)
    except TypeError as exc:
        raise ConfigError(f"Bad data settings: {exc}") from exc
    if spec.path and spec.kind in ("mnist_file", "folder", "patches", "array"):
        found = existing_path(spec.path, "Data folder" if spec.kind in ("folder", "patches") else "Data file")
        spec = dataclasses.replace(spec, path=str(found.resolve()))  # the run records where, for --resume
    return config, spec


def _resume_settings(args: argparse.Namespace, store) -> tuple[Any, TrainConfig, DataSpec]:
    ignored = [f"--{f.replace('_', '-')}" for f in dict.fromkeys((*_FLAG_FIELDS, *_DATA_FLAGS, "config"))
               if f != "epochs" and getattr(args, f, None) is not None]
    if ignored:
        raise CliError(f"--resume continues a run with its own settings and data; drop {', '.join(ignored)} "
                       f"(only --epochs may change, to train longer).")
    run = store.get(args.resume)
    if run.status == "running":
        raise CliError(f"Run {run.id} is still training in another process.", 1)
    if not run.checkpoint_path.is_file():
        raise CliError(f"Run {run.id} has no checkpoint (no epoch was finished); start a new run instead.", 1)
    config = TrainConfig.from_dict(run.config)
    if args.epochs is not None:
        config = config.replace(epochs=args.epochs)
    done = len(run.history.get("loss", []))
    if config.epochs <= done:
        raise CliError(f"Run {run.id} already has {done} of {config.epochs} epochs; pass --epochs N with N > {done} "
                       f"to train longer.")
    run.config = config.to_dict()
    fields = {f.name for f in dataclasses.fields(DataSpec)}
    spec = DataSpec(**{k: v for k, v in run.data.items() if k in fields})
    return run, config, spec


def cmd_train(args: argparse.Namespace) -> int:
    from engine.training.runs import RunStore

    out = None
    if args.out:
        out = Path(args.out).expanduser()
        if out.suffix != ".keras":
            raise CliError(f"--out must name a .keras file (got {args.out!r}).")
        if not out.parent.is_dir():
            raise CliError(f"Folder {out.parent} for --out does not exist.")
    store = RunStore(Path(args.runs_dir).expanduser() if args.runs_dir else None)
    if args.resume:
        resume, config, spec = _resume_settings(args, store)
        tell(f"Resuming run {resume.id} after epoch {len(resume.history.get('loss', []))} of {config.epochs}.")
    else:
        resume, (config, spec) = None, train_settings(args)

    from engine.jobs import train_job

    job = train_job(spec, config, store, resume=resume, distribute=args.distribute or "default")
    outcome = run_job(job)
    result, run = outcome.result, outcome.run
    if out is not None:
        if result.best_epoch is None:
            tell(f"No epoch finished, so {out} was not written.")
        else:
            from engine.models.files import save_model

            save_model(result.model, out)
            print(f"Model saved to {out}")
    if run is not None:
        print(f"Run {run.id} ({run.status}): {run.path}")
    return INTERRUPTED if result.stopped_by_user else 0


# ----------------------------------------------------------------------------- denoise

def cmd_denoise(args: argparse.Namespace) -> int:
    source = existing_path(args.input, "Input image")
    target = Path(args.output).expanduser()
    from engine.data.images import WRITE_FORMATS

    if target.suffix.lower() not in WRITE_FORMATS:
        raise CliError(f"Cannot write {target.name}: use one of {', '.join(WRITE_FORMATS)}.")
    if not target.parent.is_dir():
        raise CliError(f"Folder {target.parent} for the output does not exist.")
    method = args.model
    if method not in ("bundled", *CLASSICAL):
        if Path(method).suffix != ".keras":
            raise CliError(f"--model takes bundled, {', '.join(CLASSICAL)} or a .keras file; got {method!r}.")
        existing_path(method, "Model file")
    from engine.denoise.pipeline import MODEL_METHOD, NoiseConfig, denoise_job
    from engine.denoise.files import kept_bit_depth, same_file
    from engine.data.images import read_image, write_image

    if same_file(source, target):
        raise CliError("The output would overwrite the input; choose another file name.")
    try:
        noise = NoiseConfig("gaussian", sigma=args.add_noise, seed=args.seed) if args.add_noise \
            else NoiseConfig("none")
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    image = read_image(source)
    model, name, methods = None, "", [method]
    if method == "bundled":
        from engine.denoise.pipeline import load_bundled_denoiser

        tell("Loading the bundled denoiser…")
        model, name, methods = load_bundled_denoiser(), "DnCNN (bundled)", [MODEL_METHOD]
    elif method not in CLASSICAL:
        from engine.models.files import load_model

        model, name, methods = load_model(method), Path(method).name, [MODEL_METHOD]
    try:
        job = denoise_job(image.pixels, noise, methods, model, name)
    except ValueError as exc:  # the model cannot take this image (channels, shape)
        raise CliError(str(exc), 1) from exc
    result = run_job(job)
    key = methods[0]
    written = write_image(target, result.outputs[key], bit_depth=kept_bit_depth(image, target), alpha=image.alpha)
    label = result.labels[key]
    print(f"{label}: {image.pixels.shape[1]}x{image.pixels.shape[0]} in {result.seconds[key]:.1f} s -> {written}")
    for row in result.metrics:
        ssim = "n/a" if row.ssim != row.ssim else f"{row.ssim:.4f}"
        print(f"{result.labels.get(row.method, row.method)}: PSNR {row.psnr:.2f} dB, SSIM {ssim}")
    return 0


# ----------------------------------------------------------------------------- score

def cmd_score(args: argparse.Namespace) -> int:
    existing_path(args.detector, "Detector file")
    data = existing_path(args.data, "Data")
    out = Path(args.out).expanduser() if args.out else Path.cwd() / f"{data.stem or data.name}_scored.csv"
    if not out.parent.is_dir():
        raise CliError(f"Folder {out.parent} for --out does not exist.")
    if args.threshold is not None and args.threshold != args.threshold:
        raise CliError("--threshold must be a number.")
    from engine.anomaly.detector import flags_of, load_detector, score_new_job, write_scored_csv

    detector = load_detector(args.detector)
    if detector.kind == "image":
        if not data.is_dir():
            raise CliError(f"This detector scores images: DATA must be a folder of images, not {data.name}.")
        job = score_new_job(detector, "", str(data))
    else:
        if data.is_dir():
            raise CliError(f"This {detector.kind} detector scores a CSV/TSV file, not a folder.")
        job = score_new_job(detector, str(data))
    threshold = detector.threshold if args.threshold is None else float(args.threshold)
    try:
        scores = run_job(job)
    except InterruptedError as exc:  # Ctrl-C while scoring
        raise Stopped(str(exc)) from exc
    written = write_scored_csv(scores, threshold, out)
    flags = flags_of(scores, threshold)
    unit = "steps" if detector.kind == "sequence" else "images" if detector.kind == "image" else "rows"
    print(f"Scored CSV written to {written}")
    print(f"{int(flags.sum())} of {len(flags)} {unit} flagged at threshold {threshold:.6g}")
    return 0


# ----------------------------------------------------------------------------- export

def _run_info_beside(model_file: Path) -> dict[str, Any]:
    """run.json of the run folder a model file sits in (a run store's model.keras), else {}."""
    meta = model_file.parent / "run.json"
    try:
        return json.loads(meta.read_text()) if meta.is_file() else {}
    except (OSError, ValueError):
        return {}


def cmd_export(args: argparse.Namespace) -> int:
    source = existing_path(args.source, "Model or detector file")
    from engine.export.writer import Preprocessing, export_model, metadata_for

    if source.suffix == ".aedet":
        from engine.anomaly.detector import load_detector

        detector = load_detector(source)
        model = detector.model
        if detector.scaler is not None:
            pre = Preprocessing.from_scaler(detector.scaler)
        else:
            pre = Preprocessing.rescale(1 / 255)
        metadata = metadata_for(model, detector.config, detector.spec.path or detector.spec.source,
                                detector.metrics, detector.threshold)
        metadata.update(anomaly_kind=detector.kind, features=list(detector.names),
                        anomaly_score="mean squared reconstruction error per sample (after the preprocessing); "
                                      "flagged when above the threshold")
    else:
        from engine.models.files import load_model

        model = load_model(source)
        info = _run_info_beside(source)
        config = None
        if isinstance(info.get("config"), dict):
            try:
                config = TrainConfig.from_dict(info["config"])
            except (ConfigError, TypeError):
                config = None
        summary = str((info.get("data") or {}).get("summary", "")) if isinstance(info.get("data"), dict) else ""
        metadata = metadata_for(model, config, summary)
        pre = Preprocessing.rescale(1 / 255) if len(model.input_shape) == 4 else Preprocessing("none")
    report = export_model(model, args.fmt, args.part, args.out, metadata=metadata, preprocessing=pre,
                          include_preprocessing=args.raw_input)
    print(f"Exported {args.part} as {args.fmt} to {report.path}")
    print(f"Verification: max abs difference {report.max_abs_diff:.3g}")
    print(f"Metadata: {report.metadata_path}")
    for note in report.notes:
        tell(f"note: {note}")
    return 0
