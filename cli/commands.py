"""The command line's four commands (`train`, `denoise`, `score`, `export`) and the settings they read.
cli.parser holds the arguments, cli.app the exit statuses, cli.progress the output while a job runs.

Like cli.app this imports no TensorFlow, NumPy or Qt at module level."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from cli.common import FAILED, INTERRUPTED, CliError, existing_path, output_folder, tell
from cli.parser import CLASSICAL, CONFIG_SECTIONS
from cli.progress import run_job
from engine.core.config import DataSpec, TrainConfig
from engine.core.errors import ConfigError

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


def _resume_plan(args: argparse.Namespace, store):
    """The run to continue (engine.training.resume decides whether and how): --resume, where only --epochs
    may change, or --rollback, where nothing may."""
    from engine.training.resume import plan_resume, plan_rollback

    flag = "--rollback" if args.rollback else "--resume"
    allowed = () if args.rollback else ("epochs",)
    others = ("config", "resume") if args.rollback else ("config",)
    ignored = [f"--{f.replace('_', '-')}" for f in dict.fromkeys((*_FLAG_FIELDS, *_DATA_FLAGS, *others))
               if f not in allowed and getattr(args, f, None) is not None]
    if ignored:
        raise CliError(f"{flag} continues a run with its own settings and data; drop {', '.join(ignored)}"
                       + (" (only --epochs may change, to train longer)." if allowed else "."))
    plan = plan_rollback(store.get(args.rollback)) if args.rollback else plan_resume(store.get(args.resume),
                                                                                      args.epochs)
    plan.run.config = plan.config.to_dict()  # the run records the total asked for
    return plan


MAX_ROLLBACKS = 3  # --on-diverge rollback: tries before the run is left as it ended


def _roll_back_while_diverging(args: argparse.Namespace, store, outcome):
    """--on-diverge rollback: while the run diverged (engine.training.resume.rollback_advised), continue it
    from its best epoch with a tenth of the learning rate."""
    from engine.jobs import train_job
    from engine.training.resume import plan_rollback, rollback_advised

    for _ in range(MAX_ROLLBACKS):
        run = outcome.run
        if args.on_diverge != "rollback" or run is None or outcome.result.stopped_by_user \
                or not rollback_advised(run):
            break
        plan = plan_rollback(run)
        plan.run.config = plan.config.to_dict()
        tell(f"Rolling run {run.id} back to epoch {plan.done}; continuing with learning rate "
             f"{plan.config.learning_rate:g}.")
        outcome = run_job(train_job(plan.spec, plan.config, store, resume=plan.run, rollback=True,
                                    distribute=args.distribute or "default"))
    return outcome


def cmd_train(args: argparse.Namespace) -> int:
    from engine.training.runs import RunStore

    out = None
    if args.out:
        out = Path(args.out).expanduser()
        if out.suffix != ".keras":
            raise CliError(f"--out must name a .keras file (got {args.out!r}).")
        output_folder(out, "--out")
    store = RunStore(Path(args.runs_dir).expanduser() if args.runs_dir else None)
    if args.resume or args.rollback:
        plan = _resume_plan(args, store)
        resume, config, spec = plan.run, plan.config, plan.spec
        how = (f"Rolling run {resume.id} back to epoch {plan.done} (learning rate {config.learning_rate:g})"
               if args.rollback else f"Resuming run {resume.id} after epoch {plan.done}")
        tell(f"{how}, {config.epochs} epochs in all.")
    else:
        resume, (config, spec) = None, train_settings(args)

    from engine.jobs import train_job

    job = train_job(spec, config, store, resume=resume, distribute=args.distribute or "default",
                    rollback=bool(args.rollback))
    outcome = _roll_back_while_diverging(args, store, run_job(job))
    result, run = outcome.result, outcome.run
    if not outcome.chief:  # another worker of a multi-worker cluster: the chief records the run and saves
        tell("This worker is not the cluster's chief: the chief records the run and saves the model"
             + (", so --out is not written here." if out is not None else "."))
    elif out is not None:
        if result.best_epoch is None:
            tell(f"No epoch finished, so {out} was not written.")
        else:
            from engine.models.files import save_model

            save_model(result.model, out)
            print(f"Model saved to {out}")
    if run is not None:
        print(f"Run {run.id} ({run.status}): {run.path}")
    if result.diverged:  # the best epoch was kept, but the run failed: say so in the exit status
        return FAILED
    return INTERRUPTED if result.stopped_by_user else 0


# ----------------------------------------------------------------------------- denoise

def cmd_denoise(args: argparse.Namespace) -> int:
    source = existing_path(args.input, "Input image")
    target = Path(args.output).expanduser()
    from engine.data.images import WRITE_FORMATS

    if target.suffix.lower() not in WRITE_FORMATS:
        raise CliError(f"Cannot write {target.name}: use one of {', '.join(WRITE_FORMATS)}.")
    output_folder(target, "OUTPUT")
    method = args.model
    if method not in ("bundled", *CLASSICAL):
        if Path(method).suffix != ".keras":
            raise CliError(f"--model takes bundled, {', '.join(CLASSICAL)} or a .keras file; got {method!r}.")
        existing_path(method, "Model file")
    from engine.data.images import read_image, write_image
    from engine.data.noise import NoiseConfig
    from engine.denoise.files import kept_bit_depth, same_file
    from engine.denoise.pipeline import BUNDLED, METHOD_LABELS, MODEL_METHOD, denoise, load_bundled_denoiser

    if same_file(source, target):
        raise CliError("The output would overwrite the input; choose another file name.")
    noise = NoiseConfig("gaussian", sigma=args.add_noise, seed=args.seed) if args.add_noise else NoiseConfig("none")
    image = read_image(source)
    model, name, methods = None, "", [method]
    if method == "bundled":
        tell("Loading the bundled denoiser…")
        channels = 1 if image.pixels.ndim == 2 else image.pixels.shape[-1]
        model, name, methods = load_bundled_denoiser(channels), METHOD_LABELS[BUNDLED], [MODEL_METHOD]
    elif method not in CLASSICAL:
        from engine.models.files import load_model

        model, name, methods = load_model(method), Path(method).name, [MODEL_METHOD]
    result = run_job(lambda state: denoise(image.pixels, noise, methods, model, name, strength=args.strength,
                                           state=state))
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
    output_folder(out, "--out")
    if args.threshold is not None and args.threshold != args.threshold:
        raise CliError("--threshold must be a number.")
    from engine.anomaly.detector import flags_of
    from engine.anomaly.files import load_detector
    from engine.anomaly.scored_csv import write_scored_csv
    from engine.jobs import score_new_job

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
    scores = run_job(job)  # Ctrl-C raises Stopped: exit status 130
    written = write_scored_csv(scores, threshold, out)
    flags = flags_of(scores, threshold)
    unit = "steps" if detector.kind == "sequence" else "images" if detector.kind == "image" else "rows"
    for note in scores.data.notes:
        tell(note)
    print(f"Scored CSV written to {written}")
    print(f"Score: {scores.score_kind} ({detector.score_rule}), saved with the detector")
    print(f"{int(flags.sum())} of {len(flags)} {unit} flagged at threshold {threshold:.6g}")
    return 0


# ----------------------------------------------------------------------------- export

def cmd_export(args: argparse.Namespace) -> int:
    source = existing_path(args.source, "Model or detector file")
    output_folder(Path(args.out).expanduser(), "--out")
    from engine.export import plans

    if source.suffix == ".aedet":
        from engine.anomaly.files import load_detector

        plan = plans.plan_for_detector(load_detector(source))
    else:
        plan = plans.plan_for_model_file(source)
    from engine.jobs import export_job

    report = run_job(export_job(plan, args.fmt, args.part, args.out, include_preprocessing=args.raw_input))
    print(f"Exported {args.part} as {args.fmt} to {report.path}")
    print(f"Verification: max abs difference {report.max_abs_diff:.3g}")
    print(f"Metadata: {report.metadata_path}")
    for note in report.notes:
        tell(f"note: {note}")
    return 0


COMMANDS = {"train": cmd_train, "denoise": cmd_denoise, "score": cmd_score, "export": cmd_export}
