"""Training tab: choose data, model and hyperparameters; watch the run live; stop; save."""
from __future__ import annotations


from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from engine.core.config import MODEL_LABELS, TrainConfig
from engine.core.errors import ConfigError, RunError
from engine.core.events import (BatchEnded, EpochEnded, HealthWarning, PreviewReady, Progress, SettingsChanged,
                               Started)
from engine.jobs import train_job
from engine.training.runs import RunStore  # here, not at Start: its C modules (_csv) would wait on TensorFlow's dlopen
from gui.common import file_dialogs
from gui.common.forms import scroll_column, set_choice
from gui.failures import failure_text, stopped
from gui.lazy_tab import LazyView
from gui.session import Session
from gui.tabs.training.form import TrainingForm
from gui.tabs.training.previews import preview_rows
from gui.worker import JobRunner

LIVE_FIELDS = ("epochs", "learning_rate")  # the settings a running training takes (engine.training.control)
TEXT_FIELDS = ("data_info", "code_size_label")  # words, not settings: never greyed out
FORM_FIELDS = ("data_kind", "data_path", "browse", "image_size", "color", "data_info", "model_kind", "code_size",
               "filters", "depth", "l1_weight", "denoising", "noise_factor", "beta", "prior", "code_size_label",
               "epochs", "batch_size", "learning_rate", "cosine", "loss", "patience", "validation", "seed",
               "distribute")


class TrainingTab(QWidget):
    status_changed = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = JobRunner.for_tab(self)
        self._store = None
        self._epoch_seconds: list[float] = []
        self._steps = 1
        self._config: TrainConfig | None = None
        self._control = None  # the running training's engine.training.requests.TrainingControl
        self._rollback_run = None  # the last run, when rolling it back is advised
        self._warned = 0
        self.form = TrainingForm()
        for name in FORM_FIELDS:  # the controls users (and tests) reach through the tab
            setattr(self, name, getattr(self.form, name))
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self._controls())
        splitter.addWidget(self._live_view())
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)
        session.model_changed.connect(self._sync_enabled)
        session.data_choice = self.data_spec  # the data the other tabs use when asked for "the chosen data"
        self._sync_enabled()

    # ----- layout -------------------------------------------------------------------
    def _controls(self) -> QWidget:
        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch and keep the best model so far.")
        self.stop_button.clicked.connect(self.stop)
        self.save_button = QPushButton("Save model…")
        self.save_button.clicked.connect(self.save_model_dialog)
        self.apply_button = QPushButton("Apply epochs and learning rate")
        self.apply_button.setToolTip("Give the running training the epochs and learning rate set above, from the "
                                     "end of the epoch under way.")
        self.apply_button.clicked.connect(self.apply_to_run)
        self.rollback_button = QPushButton("Roll back")
        self.rollback_button.clicked.connect(self.roll_back)
        buttons, live = QHBoxLayout(), QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.save_button):
            buttons.addWidget(b)
        for b in (self.apply_button, self.rollback_button):
            live.addWidget(b)
        return scroll_column(self.form, min_width=340, actions=(buttons, live))

    def _live_view(self) -> QWidget:
        self.progress = QProgressBar()
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.progress_label = QLabel("Press Start training to train on the built-in MNIST digits.")
        self.progress_label.setWordWrap(True)
        self.data_kind.currentIndexChanged.connect(self._idle_hint)  # the hint names the data Start will use
        # Two lines always: a label that changes height would resize (and fully redraw) both plots.
        self.progress_label.setMinimumHeight(2 * self.progress_label.fontMetrics().lineSpacing() + 4)
        self.log_scale = QCheckBox("Log-scale loss axis")
        self.log_scale.toggled.connect(lambda on: self.plots.is_built() and self.loss_plot.set_log_scale(on))
        label_row = QHBoxLayout()
        label_row.addWidget(self.progress_label, 1)
        label_row.addWidget(self.log_scale)
        # The plots need matplotlib (half a second to import): the window shows first, they follow.
        self.plots = LazyView("gui.tabs.training.live_plots", lambda m: m.LivePlots(self.log_scale.isChecked()),
                              "Loading plots…")
        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(self.progress)
        column.addLayout(label_row)
        column.addWidget(self.plots, 1)
        return right

    loss_plot = property(lambda self: self.plots.view.loss_plot)  # built now if the background import is not done
    preview = property(lambda self: self.plots.view.preview)

    @Slot()
    def _sync_enabled(self) -> None:
        running = self.runner.is_running()
        for name in FORM_FIELDS:  # other settings changed mid-run would do nothing: locked until it ends
            getattr(self.form, name).setEnabled(not running or name in LIVE_FIELDS + TEXT_FIELDS)
        if not running:
            self.form.sync_enabled()  # the form's own rules (e.g. filters only for conv models)
        self.form.setToolTip("While a run trains only its epochs and learning rate can change (Apply); Stop it to "
                             "change the rest." if running else "")
        self.apply_button.setVisible(running)
        self.rollback_button.setVisible(not running and self._rollback_run is not None)
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.session.model is not None)

    # ----- configs ------------------------------------------------------------------
    def data_spec(self):
        return self.form.data_spec()

    def train_config(self) -> TrainConfig:
        return self.form.train_config()

    def apply_config(self, config: TrainConfig) -> None:
        self.form.apply_config(config)

    # ----- run ----------------------------------------------------------------------
    @Slot()
    def use_data_path(self, path: str) -> None:
        """Train on a folder of images or an array file next (e.g. one dropped on the window)."""
        from pathlib import Path

        kind = "folder" if Path(path).is_dir() else "array"
        set_choice(self.form.data_kind, kind)
        self.form.data_path.setText(path)
        self.status_changed.emit(f"Training data: {path}. Check the settings, then press Start training.")

    def start(self) -> None:
        if self.runner.is_running():
            self.status_changed.emit("Training is already running; stop it first.")
            return
        try:
            spec, config = self.data_spec(), self.train_config()
        except ConfigError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return
        distribute = "mirrored" if self.distribute.isChecked() else "default"
        self._begin(lambda control: train_job(spec, config, self.store, distribute=distribute, control=control),
                    config, "Training started.")

    @property
    def store(self):
        """The run store every training is recorded in (created on first use)."""
        if self._store is None:
            self._store = RunStore()
        return self._store

    def _begin(self, make_job, config: TrainConfig, message: str) -> None:
        """Start the job `make_job(control)` makes, with a fresh TrainingControl for mid-run changes."""
        from engine.training.requests import TrainingControl

        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        if not self.plots.is_built():  # pressed as the window opened: once the plots' import is done, no waiting
            self.start_button.setEnabled(False)
            self.plots.when_built(lambda: self._begin(make_job, config, message))
            return
        self._config, self._control, self._rollback_run = config, TrainingControl(), None
        self._warned = 0  # health warnings of this run
        self._epoch_seconds.clear()
        self.loss_plot.reset(f"{MODEL_LABELS[config.model_kind]}", config.epochs)
        self.preview.clear_images()
        self.runner.start(make_job(self._control), "training")
        self._sync_enabled()
        self.status_changed.emit(message)

    def resume(self, run) -> bool:
        """Continue a recorded run from its last checkpoint, with its settings and data
        (engine.training.resume decides whether it can)."""
        from engine.training.resume import plan_resume

        if self.runner.is_running():
            self.status_changed.emit("Training is already running; stop it first.")
            return False
        try:
            plan = plan_resume(run)
        except (RunError, ConfigError) as exc:
            QMessageBox.warning(self, "Cannot resume", str(exc))
            return False
        self.apply_config(plan.config)
        self._begin(lambda control: train_job(plan.spec, plan.config, self.store, resume=run, control=control),
                    plan.config, f"Resuming run {run.id}.")
        return True

    @Slot()
    def apply_to_run(self) -> None:
        """Send the epochs and learning rate now in the form to the running training."""
        if not self.runner.is_running() or self._control is None:
            return
        epochs, rate = self.epochs.value(), self.learning_rate.value()
        try:
            self._control.request(epochs=epochs, learning_rate=rate)
        except ConfigError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return
        self.status_changed.emit(f"Asked for {epochs} epochs in all and learning rate {rate:g}: they apply when "
                                 f"the epoch under way ends.")

    @Slot()
    def roll_back(self) -> None:
        """Continue the last run from its best epoch with a tenth of its learning rate."""
        from engine.training.resume import plan_rollback

        run = self._rollback_run
        if run is None or self.runner.is_running():
            return
        try:
            plan = plan_rollback(run)
        except (RunError, ConfigError) as exc:
            QMessageBox.warning(self, "Cannot roll back", str(exc))
            return
        self.apply_config(plan.config)
        self._begin(lambda control: train_job(plan.spec, plan.config, self.store, resume=run, rollback=True,
                                              control=control),
                    plan.config, f"Rolling run {run.id} back to epoch {plan.done}, learning rate "
                                 f"{plan.config.learning_rate:g}.")

    @Slot()
    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self._say("Stopping after the current batch…")

    @Slot(object)
    def _on_event(self, event) -> None:
        if isinstance(event, Progress):
            self._say(event.message)
        elif isinstance(event, Started):
            self._steps = max(1, event.steps_per_epoch)
            self.progress.setRange(0, event.total_epochs * self._steps)
            self.progress.setValue(0)
            if event.history:  # a resumed run: its recorded epochs first, then the new ones stream in
                self.loss_plot.load_history(event.history)
                self._show_progress(event.resumed_after or 0, 0)
            self.loss_plot.set_total_epochs(event.total_epochs)
            self._say(event.description)
            self.data_info.setText(event.data)
        elif isinstance(event, BatchEnded):
            self.loss_plot.add_batch(event)
            self._show_progress(event.epoch, event.step)
        elif isinstance(event, EpochEnded):
            self._epoch_seconds.append(event.seconds)
            self.loss_plot.add_epoch(event)
            self._show_progress(event.epoch + 1, 0)
            val = event.logs.get("val_loss", event.logs.get("loss"))
            warned = f" {self._warned} health warning(s) above the plots." if self._warned else ""
            self.status_changed.emit(f"Training: epoch {event.epoch + 1} of {event.total_epochs} done"
                                     + ("" if val is None else f", validation loss {val:.4g}") + "." + warned)
        elif isinstance(event, PreviewReady):
            self._show_preview(event)
        elif isinstance(event, HealthWarning):  # one plain line, while the run goes on
            self._warned += 1
            self._say(f"Warning: {event.message}")
            self.status_changed.emit(f"Warning: {event.message}")
        elif isinstance(event, SettingsChanged):
            self.progress.setMaximum(event.total_epochs * self._steps)
            self.loss_plot.set_total_epochs(event.total_epochs)
            self._show_progress(event.epoch + 1, 0)
            self._say(event.message)
            self.status_changed.emit(event.message)

    def _idle_hint(self) -> None:
        if self.progress_label.text().startswith("Press Start training"):  # nothing has run yet
            self._say(f"Press Start training to train on: {self.data_kind.currentText()}.")

    def _say(self, text: str) -> None:
        """The line under the bar. Its height only grows: a label that shrank back when a long line (the run's
        description, a warning) gave way to a short one would resize, and fully redraw, both plots."""
        label = self.progress_label
        label.setText(text)
        label.setToolTip(text)
        needed = label.heightForWidth(max(1, label.width()))
        if needed > label.minimumHeight():
            label.setMinimumHeight(needed)

    def _show_progress(self, epoch: int, step: int) -> None:
        total = self.progress.maximum()
        done = min(total, epoch * self._steps + step)
        self.progress.setValue(done)
        epochs = max(1, total // self._steps)
        eta = ""
        if self._epoch_seconds:
            per_epoch = sum(self._epoch_seconds) / len(self._epoch_seconds)
            eta = f", about {_duration(max(0.0, (total - done) / self._steps * per_epoch))} left"
        self.progress.setFormat(f"epoch {min(epochs, epoch + 1)}/{epochs}  %p%{eta}")

    def _show_preview(self, event: PreviewReady) -> None:
        shown = preview_rows(event, self._config)  # None for tables: no picture to show
        if shown is not None:
            self.preview.set_images(*shown)

    @Slot(object)
    def _on_succeeded(self, outcome) -> None:
        result = outcome.result
        epochs = len(result.history.get("loss", []))
        origin = (f"trained here: {MODEL_LABELS[result.config.model_kind]}, {epochs} epoch(s), "
                  f"on {outcome.dataset.where}")
        self.session.set_dataset(outcome.dataset)
        self.session.set_model(result.model, origin, result.config)
        self.loss_plot.mark_best(result.best_epoch)
        message = result.message + (f" Recorded as run {outcome.run.id} (Runs tab)." if outcome.run else "")
        self._offer_rollback(outcome.run)
        self._end_progress(f"stopped after {epochs} epoch(s)" if result.stopped_by_user else f"done, {epochs} epoch(s)")
        self._say(message)
        self.status_changed.emit(message)
        if outcome.dataset.skipped:
            QMessageBox.information(self, "Some files were skipped",
                                    f"{len(outcome.dataset.skipped)} file(s) could not be read and were skipped:\n\n"
                                    + "\n".join(outcome.dataset.skipped[:20]))

    def _offer_rollback(self, run) -> None:
        """Show Roll back when the engine advises it for the run and can plan it (its epoch and rate)."""
        from engine.training.resume import plan_rollback, rollback_advised

        self._rollback_run = None
        if run is None or not rollback_advised(run):
            return
        try:
            plan = plan_rollback(run)
        except (RunError, ConfigError):  # no good epoch, or the rate would fall below its limit
            return
        self._rollback_run = run
        self.rollback_button.setText(f"Roll back to epoch {plan.done}, learning rate {plan.config.learning_rate:g}")
        self.rollback_button.setToolTip("Continue this run from its best epoch with a tenth of its learning "
                                        "rate (the epochs after it are dropped).")

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        if stopped(exc):  # stopped before training began (e.g. while the data loaded): nothing to keep
            self._end_progress("stopped")
            self._say("Stopped before training began.")
            self.status_changed.emit("Stopped before training began; the model in use is unchanged.")
            return
        message = failure_text(exc)
        self._end_progress("failed")
        self._say(f"Training failed: {message}")
        self.status_changed.emit(f"Training failed: {message}")
        QMessageBox.warning(self, "Training failed", message)

    def _end_progress(self, text: str) -> None:
        """The bar after a run: what happened, with no time left to count down."""
        self.progress.setRange(0, max(1, self.progress.maximum()))
        self.progress.setFormat(f"{text}  %p%")

    @Slot()
    def _on_finished(self) -> None:
        self.progress.setRange(0, max(1, self.progress.maximum()))
        if self.progress.format() == "starting…":  # ended before its first step: nothing was trained
            self.progress.setValue(0)
            self.progress.setFormat("idle")
        self._sync_enabled()

    # ----- saving -------------------------------------------------------------------
    @Slot()
    def save_model_dialog(self) -> None:
        if self.session.model is None:
            return
        path = file_dialogs.save_file(self, "Save model", "model", "autoencoder.keras", "Keras model (*.keras)")
        if path:
            self.save_model_to(path)

    def save_model_to(self, path: str) -> bool:
        from engine.core.errors import ModelError

        try:
            written = self.session.save_model(path)
        except ModelError as exc:
            QMessageBox.warning(self, "Could not save the model", str(exc))
            return False
        self.status_changed.emit(f"Model saved to {written}.")
        return True

    # ----- settings -----------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        self.form.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.form.restore_settings(settings)
        self._sync_enabled()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"
