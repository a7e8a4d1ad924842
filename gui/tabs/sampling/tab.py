"""Sampling tab: what a VAE or AAE has learned about its latent space.

Samples from the prior, the 2-D manifold, the validation set's latent means (click or drag on the
plane to decode that point) and interpolations between two validation images. All the maths is in
engine.latent.codes; every call that may take a while runs as a job on this tab's JobRunner, one at a
time from a small queue (a newer request of the same kind replaces a queued one). Only decoding
the single picked point runs on the GUI thread, and only while no job holds the model.
"""
from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSettings, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from engine import jobs
from engine.core.config import DataSpec
from engine.core.errors import ConfigError
from engine.core.events import Progress
from engine.latent import codes as latent
from engine.models import guards
from gui.common import file_dialogs
from gui.failures import failure_text
from gui.session import Session
from gui.common.canvas import MplCanvas
from gui.tabs.sampling.sampling_view import MODES, SamplingView
from gui.tabs.sampling.texts import pick_text, plane_text
from gui.worker import JobRunner

ENCODE_LIMIT = 5000  # validation samples encoded for the scatter


class SamplingTab(SamplingView):
    status_changed = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)  # builds the widgets
        self.session = session
        self._model_users: list[JobRunner] = []  # other tabs' runners whose jobs may hold session.model
        self.runner = JobRunner.for_tab(self)
        self._queue: dict[str, Callable] = {}
        self._pending: tuple[str, object, object] | None = None  # (kind, model, dataset) of the running job
        self._stale = True
        self._refresh_scheduled = False
        self._active = False  # a generative model is shown
        self.view: latent.LatentView | None = None
        self._pick: tuple[float, float] | None = None
        self._pick_waiting = False  # a pick arrived while the model was busy
        self.decoded_image: np.ndarray | None = None
        self.strip_images: np.ndarray | None = None
        self.sample_images: np.ndarray | None = None
        self._connect()
        session.model_changed.connect(self._on_session_changed)
        session.dataset_changed.connect(self._on_session_changed)
        self._sync_enabled()

    def _connect(self) -> None:
        self.grid_size.valueChanged.connect(self._request_samples)
        self.seed.valueChanged.connect(self._request_samples)
        self.manifold_size.valueChanged.connect(self._request_manifold)
        for box in (self.index_a, self.index_b):
            box.valueChanged.connect(self._on_ends_changed)
        self.mode.currentIndexChanged.connect(self._request_interpolation)
        self.steps.valueChanged.connect(self._request_interpolation)
        self.refine_steps.valueChanged.connect(self._on_refine_changed)
        self.scatter.picked.connect(self._on_picked)
        for button, canvas, name in ((self.save_samples_button, self.samples_grid, "samples.png"),
                                     (self.save_manifold_button, self.manifold, "manifold.png"),
                                     (self.save_scatter_button, self.scatter, "latent_space.png"),
                                     (self.save_strip_button, self.strip, "interpolation.png")):
            button.clicked.connect(lambda _=False, c=canvas, n=name: self._save_dialog(c, n))

    def _sync_enabled(self) -> None:
        data = self.session.dataset is not None and self.view is not None
        for w in self.controls:
            w.setEnabled(self._active)
        self.save_manifold_button.setEnabled(self._active and self.manifold.has_manifold())
        self.save_scatter_button.setEnabled(self._active and self.scatter.has_points())
        for w in (self.index_a, self.index_b, self.mode, self.steps, self.save_strip_button):
            w.setEnabled(self._active and data)
        self.refine_steps.setEnabled(self._active and self.session.model.kind == "vae")

    def _refine(self) -> int:
        """Posterior refinement steps to use: the box's value for a VAE, 0 for anything else."""
        model = self.session.model
        return self.refine_steps.value() if guards.is_generative(model) and model.kind == "vae" else 0

    # ----- refreshing ---------------------------------------------------------------
    @Slot()
    def _on_session_changed(self) -> None:
        """A new model or data: forget what is shown and refresh once, when the tab is on screen."""
        self._stale = True
        self._queue.clear()
        self.view = None
        if not self._refresh_scheduled:
            self._refresh_scheduled = True
            QTimer.singleShot(0, self.refresh)  # model and data often change together

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        self._refresh_scheduled = False
        if not self._stale or not self.isVisible():
            return
        self._stale = False
        model = self.session.model
        try:
            guards.require_generative(model)
        except ConfigError as exc:
            self._deactivate(str(exc))
            return
        self._active = True
        self.message.hide()
        self.model_label.setText(f"Model: {latent.describe(model)} — {self.session.model_origin}")
        self._clear_views()
        self._request_samples()
        if latent.latent_dim(model) == 2:
            self._request_manifold()
        else:
            self.manifold.show_message(
                f"The manifold is drawn for a 2-D latent space; this model's latent space has "
                f"{latent.latent_dim(model)} dimensions.\nTrain with latent size 2 to see it. The scatter "
                f"shows the latent means on a plane (PCA).")
        data = self.session.dataset
        if data is None:
            self.scatter.show_message("Loading the MNIST test digits…")
            self._submit("data", jobs.data_job(DataSpec()))
        else:
            for box in (self.index_a, self.index_b):
                box.blockSignals(True)
                box.setMaximum(max(0, len(data.x_val) - 1))
                box.blockSignals(False)
            if self.index_a.value() == self.index_b.value():
                self.index_b.setValue(min(self.index_a.value() + 1, self.index_b.maximum()))
            self._request_encoding()
            self._on_ends_changed()
        self._sync_enabled()

    def _request_encoding(self) -> None:
        steps = self._refine()
        self.plane_info.setText("")  # until the new codes are in
        self.scatter.set_anchors([])
        self.scatter.show_message(f"Refining the codes ({steps} steps per sample)…" if steps
                                  else "Encoding the validation samples…")
        self._submit("encode", jobs.encode_view_job(self.session.model, self.session.dataset, ENCODE_LIMIT, steps))

    @Slot()
    def _on_refine_changed(self) -> None:
        if not self._active or self.session.dataset is None:
            return
        self.view = None
        self._request_encoding()
        self._request_interpolation()

    def _deactivate(self, text: str) -> None:
        self._active = False
        self._queue.clear()
        self.message.setText(text)
        self.message.show()
        self.model_label.setText("No VAE or AAE model." if self.session.model is None
                                 else f"Model: {self.session.model.name} — {self.session.model_origin}")
        self._clear_views()
        self.manifold.show_message("Needs a VAE or AAE model.")
        self.scatter.show_message("Needs a VAE or AAE model.")
        self._sync_enabled()

    def _clear_views(self) -> None:
        self.view, self._pick, self.decoded_image = None, None, None
        self.strip_images = self.sample_images = None
        self.plane_info.setText("")
        for grid in (self.samples_grid, self.decoded, self.strip, self.thumbnails):
            grid.clear_images()
        self.manifold.show_message("")
        self.scatter.set_anchors([])

    # ----- jobs ---------------------------------------------------------------------
    def _submit(self, kind: str, job) -> None:
        self._queue[kind] = job  # a queued request of the same kind is replaced
        self._run_next()

    def _run_next(self) -> None:
        if self.runner.is_running() or not self._queue:
            return
        kind = next(iter(self._queue))
        job = self._queue.pop(kind)
        self._pending = (kind, self.session.model, self.session.dataset)
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"{kind}…")
        self.runner.start(job, kind)

    def add_model_user(self, runner: JobRunner) -> None:
        """Another tab's runner whose jobs may use the session model: no GUI-thread decoding meanwhile."""
        self._model_users.append(runner)
        runner.finished.connect(self._decode_waiting_pick)

    def model_busy(self) -> bool:
        """True while a job (this tab's or another's) may be using the session model."""
        return any(r.is_running() for r in (self.runner, *self._model_users))

    @Slot()
    def _decode_waiting_pick(self) -> None:
        if self._pick_waiting and not self.model_busy():
            self._decode_pick()

    @Slot()
    def _request_samples(self) -> None:
        if not self._active:
            return
        model, n, seed = self.session.model, self.grid_size.value(), self.seed.value()
        self._submit("samples", jobs.prior_samples_job(model, n * n, seed))

    @Slot()
    def _request_manifold(self) -> None:
        if not self._active or latent.latent_dim(self.session.model) != 2:
            return
        model, n = self.session.model, self.manifold_size.value()
        self._submit("manifold", jobs.manifold_job(model, n))

    @Slot()
    def _on_ends_changed(self) -> None:
        data = self.session.dataset
        if not self._active or data is None or not len(data.x_val):
            return
        a, b = self.index_a.value(), self.index_b.value()
        labels = data.y_val
        names = [f"{t} #{i}" + (f" ({labels[i]})" if labels is not None else "") for t, i in (("A", a), ("B", b))]
        if data.x_val.ndim == 4:
            self.thumbnails.set_images([data.x_val[[a, b]]], [""], names)
        self._show_anchors()
        self._request_interpolation()

    @Slot()
    def _request_interpolation(self) -> None:
        data = self.session.dataset
        if not self._active or data is None or not len(data.x_val):
            return
        model, pair = self.session.model, data.x_val[[self.index_a.value(), self.index_b.value()]]
        steps, mode, refine = self.steps.value(), self.mode.currentData(), self._refine()
        self._submit("interpolate", jobs.interpolation_job(model, pair, steps, mode, refine))

    @Slot(object)
    def _on_event(self, event) -> None:
        if isinstance(event, Progress) and event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.progress.setFormat(f"{event.message} %p%" if event.message else "%p%")

    @Slot(object)
    def _on_succeeded(self, result) -> None:
        kind, model, data = self._pending or ("", None, None)
        if kind == "data":
            self.session.set_dataset(result)  # a refresh follows
        elif model is not self.session.model or data is not self.session.dataset or not self._active:
            return  # made for a model or data that is gone
        elif kind == "samples":
            self._show_samples(result)
        elif kind == "manifold":
            images, grid_x, grid_y = result
            self.manifold.set_manifold(images, grid_x, grid_y, "latent z₁", "latent z₂")
        elif kind == "encode":
            self._show_view(result)
        elif kind == "interpolate":
            self.strip_images = result
            captions = ["A"] + [""] * (len(result) - 2) + ["B"]
            self.strip.set_images([result], [MODES[self.mode.currentData()].split()[0].lower()], captions)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        message = failure_text(exc)
        kind = (self._pending or ("",))[0]
        title = {"data": "Could not load the test digits", "encode": "Could not encode the validation samples",
                 "samples": "Could not draw samples", "manifold": "Could not draw the manifold",
                 "interpolate": "Could not interpolate"}.get(kind, "Something went wrong")
        if kind in ("data", "encode"):
            self.scatter.show_message(f"{title}: {message}")
        elif kind == "manifold":
            self.manifold.show_message(f"{title}: {message}")
        self.status_changed.emit(f"{title}: {message}")

    @Slot()
    def _on_finished(self) -> None:
        self._pending = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self._run_next()
        self._decode_waiting_pick()
        self._sync_enabled()

    # ----- showing ------------------------------------------------------------------
    def _show_samples(self, images: np.ndarray) -> None:
        if images.ndim != 4:
            self.status_changed.emit("This model makes tables, not images: there is nothing to draw.")
            return
        self.sample_images = images
        n = self.grid_size.value()
        self.samples_grid.set_images([images[r * n:(r + 1) * n] for r in range(n)], [""] * n)

    def _show_view(self, view: latent.LatentView) -> None:
        self.view = view
        plane, data = view.plane, self.session.dataset
        if plane.pca is not None:
            xlabel, ylabel = "principal component 1", "principal component 2"
        else:
            xlabel, ylabel = "latent z₁", ("latent z₂" if plane.latent_dim > 1 else "(unused)")
        self.scatter.set_points(view.points, view.labels, plane.bounds, xlabel, ylabel,
                                getattr(data, "class_names", ()) or ())
        self.plane_info.setText(plane_text(view))
        self._show_anchors()
        x0, x1, y0, y1 = plane.bounds
        self._on_picked((x0 + x1) / 2, (y0 + y1) / 2)  # something decoded from the start
        self.status_changed.emit(f"Encoded {len(view.points)} validation samples; click or drag on the plane.")

    def _show_anchors(self) -> None:
        view = self.view
        if view is None:
            return
        ends = [(t, i) for t, i in (("A", self.index_a.value()), ("B", self.index_b.value())) if i < len(view.points)]
        self.scatter.set_anchors([(t, *view.points[i]) for t, i in ends])

    @Slot(float, float)
    def _on_picked(self, x: float, y: float) -> None:
        if self.view is None or not self._active:
            return
        self._pick = (x, y)
        self.scatter.set_marker(x, y)
        if self.model_busy():
            self._pick_waiting = True  # decoded when the job is done
            self.status_changed.emit(pick_text(self.view.plane, x, y, waiting=True))
            return
        self._decode_pick()

    def _decode_pick(self) -> None:
        self._pick_waiting = False
        if self._pick is None or self.view is None:
            return
        x, y = self._pick
        image = latent.decode(self.session.model, self.view.plane.from_plane([[x, y]]))
        if image.ndim != 4:
            return
        self.decoded_image = image[0]
        self.decoded.set_images([image], ["decoded"], [f"({x:.2f}, {y:.2f})"])
        self.status_changed.emit(pick_text(self.view.plane, x, y))

    # ----- files --------------------------------------------------------------------
    def _save_dialog(self, canvas: MplCanvas, name: str) -> None:
        path = file_dialogs.save_file(self, "Save as PNG", "figure", name, "PNG image (*.png)")
        if path:
            self.save_png_to(canvas, path)

    def save_png_to(self, canvas: MplCanvas, path: str | os.PathLike) -> bool:
        """Write the canvas's figure as PNG, atomically (a failed save leaves no half file)."""
        from engine.core.fileio import atomic_path

        path = str(path) if str(path).lower().endswith(".png") else f"{path}.png"
        try:
            with atomic_path(path) as tmp:
                canvas.save_png(tmp)
        except OSError as exc:
            self.status_changed.emit(f"Could not save {path}: {exc}")
            return False
        self.status_changed.emit(f"Saved {path}.")
        return True

    # ----- settings -----------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        for key, box in (("grid", self.grid_size), ("seed", self.seed), ("manifold", self.manifold_size),
                         ("steps", self.steps), ("refine", self.refine_steps)):
            settings.setValue(f"sampling/{key}", box.value())
        settings.setValue("sampling/mode", self.mode.currentData())

    def restore_settings(self, settings: QSettings) -> None:
        try:
            for key, box in (("grid", self.grid_size), ("seed", self.seed), ("manifold", self.manifold_size),
                             ("steps", self.steps), ("refine", self.refine_steps)):
                box.setValue(int(settings.value(f"sampling/{key}", box.value())))
            index = self.mode.findData(str(settings.value("sampling/mode", "linear")))
            self.mode.setCurrentIndex(max(0, index))
        except (TypeError, ValueError):
            pass  # settings from another version: keep the defaults
