"""The main window: one tab per capability, menus, settings, clean shutdown."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, QTimer, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox

from gui.common import drops, file_dialogs, help_content
from gui.common.recent_files import clean_recent
from gui.lazy_tab import LazyTab, Tabs, wait_for_imports
from gui.session import Session
from gui.tabs.denoise import RECENT_KEY
from gui.tabs.training.tab import TrainingTab
from gui.worker import JobRunner, stop_all

APP_NAME = "Autoencoder Studio"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.settings = settings or QSettings("AutoencoderStudio", "AutoencoderStudio")
        file_dialogs.use_settings(self.settings)  # every dialog opens where that kind of file was last chosen
        self.setAcceptDrops(True)  # a file dropped on any tab goes where it belongs (gui.common.drops)
        self.setWindowTitle(APP_NAME)
        self.session = Session(self)
        self.training_tab = TrainingTab(self.session)
        # Built when first shown or used: the window opens faster without them. Each one catches up with the
        # session when built; the Reconstruction tab is built by the first model, to reconstruct it unasked.
        self._reconstruction_page = LazyTab(self._make_reconstruction_tab, self._on_tab_built)
        self._denoise_page = LazyTab(self._make_denoise_tab, self._on_tab_built)
        self._sampling_page = LazyTab(self._make_sampling_tab, self._on_tab_built)
        self._anomaly_page = LazyTab(self._make_anomaly_tab, self._on_tab_built)
        self._runs_page = LazyTab(self._make_runs_tab, self._on_tab_built)
        self._lazy_pages = (self._reconstruction_page, self._denoise_page, self._sampling_page, self._anomaly_page,
                            self._runs_page)
        self.session.model_changed.connect(self._build_reconstruction_tab)
        self.tabs = Tabs()
        self.tabs.addTab(self.training_tab, "Training")
        self.tabs.addTab(self._reconstruction_page, "Reconstruction")
        self.tabs.addTab(self._denoise_page, "Denoise")
        self.tabs.addTab(self._sampling_page, "Sampling")
        self.tabs.addTab(self._anomaly_page, "Anomaly detection")
        self.tabs.addTab(self._runs_page, "Runs")
        self.setCentralWidget(self.tabs)
        self.status_label = QLabel("Ready. Press Start training to train on the built-in MNIST digits.")
        self.statusBar().addWidget(self.status_label, 1)
        self._statuses = {self.training_tab: self.status_label.text()}  # each tab's last message
        for tab in self._all_tabs():
            self._follow_status(tab)
        self._build_menus()
        self._fit_to_screen(1280, 820)
        self._restore_settings()
        self.tabs.currentChanged.connect(self._show_tab_status)  # after the restore: the greeting stays at launch
        self._closed = False
        self.warm_up = JobRunner(self)
        self.warm_up.succeeded.connect(self._on_warmed_up)
        # TensorFlow next, after the window and its plots (their imports would only slow each other down)
        self.training_tab.plots.built.connect(lambda: QTimer.singleShot(300, self._start_warm_up))

    @Slot()
    def _start_warm_up(self) -> None:
        """Load TensorFlow in the background while the user reads the window, not on first Start."""
        from engine.jobs import warm_up_job

        if self._closed or not self.isVisible():  # closed (or never shown) before the timer fired
            return
        self.warm_up.start(warm_up_job(), "load TensorFlow")

    @Slot(object)
    def _on_warmed_up(self, versions: str) -> None:
        ready = f"Ready ({versions} loaded). Press Start training to train on the built-in MNIST digits."
        if self._statuses.get(self.training_tab, "").startswith("Ready"):
            self._statuses[self.training_tab] = ready
        if self.status_label.text().startswith("Ready"):
            self.status_label.setText(ready)

    def _all_tabs(self) -> tuple:
        """The tabs built so far (the lazy ones only once shown or used)."""
        return (self.training_tab, *(page.tab for page in self._lazy_pages if page.is_built()))

    @Slot()
    def _build_reconstruction_tab(self) -> None:
        """A new model: the Reconstruction tab reconstructs it unasked (loading the MNIST test digits if there is no
        data yet, which the other tabs then use too), as when it was built with the window."""
        self.reconstruction_tab  # noqa: B018 - builds it (once); built, it follows the session itself

    def _make_reconstruction_tab(self):
        from gui.tabs.reconstruction.tab import ReconstructionTab  # imported on first use, like the tab itself

        return self._model_user(ReconstructionTab(self.session))

    def _make_denoise_tab(self):
        from gui.tabs.denoise.tab import DenoiseTab

        return self._model_user(DenoiseTab(self.session))

    def _model_user(self, tab):
        """`tab`, whose jobs may use the session model: the Sampling tab decodes on the GUI thread only meanwhile."""
        if self._sampling_page.is_built():
            self.sampling_tab.add_model_user(tab.runner)
        return tab

    def _make_sampling_tab(self):
        from gui.tabs.sampling.tab import SamplingTab

        tab = SamplingTab(self.session)
        for page in (self._reconstruction_page, self._denoise_page):
            if page.is_built():
                tab.add_model_user(page.tab.runner)  # their jobs may use the session model
        return tab

    def _make_anomaly_tab(self):
        from gui.tabs.anomaly.tab import AnomalyTab  # imported on first use, like the tab itself

        return AnomalyTab(self.session)

    def _make_runs_tab(self):
        from gui.tabs.runs.tab import RunsTab

        return RunsTab(self.session)

    # The lazy tabs themselves (asking builds the tab).
    reconstruction_tab = property(lambda self: self._reconstruction_page.tab)
    denoise_tab = property(lambda self: self._denoise_page.tab)
    sampling_tab = property(lambda self: self._sampling_page.tab)
    anomaly_tab = property(lambda self: self._anomaly_page.tab)
    runs_tab = property(lambda self: self._runs_page.tab)

    def _on_tab_built(self, tab) -> None:
        self._follow_status(tab)
        tab.restore_settings(self.settings)
        if hasattr(tab, "resume_requested"):  # the Runs tab
            tab.resume_requested.connect(self._resume_run)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open model…", lambda: self.reconstruction_tab.open_model_dialog(),  # builds it
                     QKeySequence.Open)
        self._action(file_menu, "&Save model…", self.training_tab.save_model_dialog, QKeySequence.Save)
        file_menu.addSeparator()
        self._build_image_menus(file_menu)
        file_menu.addSeparator()
        self._action(file_menu, "Open &detector…", lambda: self.tabs.setCurrentWidget(self.anomaly_tab)
                     or self.anomaly_tab.open_dialog())
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.Quit)
        train_menu = self.menuBar().addMenu("&Train")
        self.start_action = self._action(train_menu, "&Start", self._start_training, "Ctrl+Return")
        self._action(train_menu, "S&top", self.training_tab.stop, "Ctrl+.")
        model_menu = self.menuBar().addMenu("&Model")
        self._action(model_menu, "&Architecture…", self.show_architecture, "Ctrl+I")
        self._action(model_menu, "&Export…", self.show_export, "Ctrl+E")
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&User guide", self._user_guide, QKeySequence.HelpContents)
        self._action(help_menu, "&Keyboard shortcuts", self._shortcuts, "Ctrl+/")
        self._action(help_menu, "Open the &runs folder", self._open_runs_folder)
        help_menu.addSeparator()
        self._action(help_menu, "&About", self._about)
        self.tab_actions = [help_content.tab_action(self, i) for i in range(self.tabs.count())]

    def _build_image_menus(self, file_menu) -> None:
        """File > Open image…, Open sample image, Recent images: all open in the Denoise tab (built when used)."""
        self._action(file_menu, "Open &image…", lambda: self._show_denoise() or self.denoise_tab.open_dialog(),
                     "Ctrl+Shift+O")
        self.sample_menu = file_menu.addMenu("Open sa&mple image")
        self.sample_menu.aboutToShow.connect(self._fill_sample_menu)
        self.sample_menu.triggered.connect(self._show_denoise)
        self.recent_menu = file_menu.addMenu("&Recent images")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)

    @Slot()
    def _fill_sample_menu(self) -> None:
        """Filled when first opened: finding the samples imports the image readers, not needed to open the window."""
        if not self.sample_menu.actions():
            wait_for_imports()
            from gui.tabs.denoise.files import fill_sample_menu

            fill_sample_menu(self.sample_menu, lambda name: self.denoise_tab.open_sample(name))

    @Slot()
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = (self.denoise_tab.recent if self._denoise_page.is_built()
                  else clean_recent(self.settings.value(RECENT_KEY, [])))  # what the tab reads when built
        for path in recent:
            self.recent_menu.addAction(path).triggered.connect(
                lambda _checked=False, p=path: self._show_denoise() or self.denoise_tab.open_image(p))
        if not recent:
            self.recent_menu.addAction("No recent images").setEnabled(False)

    @Slot()
    def _start_training(self) -> None:
        """Train > Start starts only from the Training tab; elsewhere it shows that tab first, so a shortcut
        never starts a run the user cannot see (nor replaces the model in use unseen)."""
        if self.tabs.currentWidget() is not self.training_tab:
            self.tabs.setCurrentWidget(self.training_tab)
            self.status_label.setText("Check the training settings, then press Start training (Ctrl+Return) "
                                      "to train; the model in use is kept until then.")
            return
        self.training_tab.start()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        path = drops.dropped_local_path(event.mimeData())
        if path is not None and drops.destination(path) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        path = drops.dropped_local_path(event.mimeData())
        if path is not None and self.open_dropped(path):
            event.acceptProposedAction()
        else:
            event.ignore()

    def open_dropped(self, path) -> bool:
        """Send a dropped file or folder to the tab that uses it; False (with a message) for anything else."""
        where = drops.destination(path)
        if where == "image":
            self._show_denoise()
            return self.denoise_tab.open_image(path)
        routes = {"training data": (self.training_tab, lambda p: self.training_tab.use_data_path(p)),
                  "table": (self._anomaly_page, lambda p: self.anomaly_tab.use_table(p)),  # built when used
                  "model": (self._reconstruction_page, lambda p: self.reconstruction_tab.open_model(p)),
                  "detector": (self._anomaly_page, lambda p: self.anomaly_tab.open_detector(p))}
        if where in routes:
            page, open_it = routes[where]
            self.tabs.setCurrentWidget(page)
            open_it(str(path))
        else:
            self.status_label.setText(f"{path.name}: not a file the app opens (images, .npy/.npz arrays or image "
                                      "folders, CSV/TSV tables, .keras models, .aedet detectors).")
            return False
        return True

    def _show_denoise(self, *_args) -> None:
        self.tabs.setCurrentWidget(self._denoise_page)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _current_model(self, what: str):
        """The session's model, or None after telling the user how to get one."""
        if self.session.model is None:
            QMessageBox.information(self, what, "There is no model yet: train one in the Training tab or open a "
                                    ".keras file with File > Open model.")
        return self.session.model

    @Slot()
    def show_architecture(self) -> None:
        wait_for_imports()
        from gui.common.architecture_view import ArchitectureDialog

        model = self._current_model("Architecture")
        if model is not None:
            self.architecture_dialog = ArchitectureDialog(model, self.session.model_origin, self)
            self.architecture_dialog.show()

    @Slot()
    def show_export(self) -> None:
        """Model > Export: on the Anomaly tab with a detector, the detector's model; else the model in use.
        The dialog says which."""
        wait_for_imports()
        from gui.common.export_dialog import ExportDialog

        if self.tabs.currentWidget() is self._anomaly_page and self.anomaly_tab.detector is not None:
            self.anomaly_tab.show_export()
            self.export_dialog = self.anomaly_tab.export_dialog
            return
        model = self._current_model("Export")
        if model is None:
            return
        from engine.export.plans import plan_for_model

        self.export_dialog = ExportDialog(plan_for_model(model, self.session.train_config, self.session.dataset), self,
                                          f"the model in use ({self.session.model_origin})")
        self.export_dialog.show()

    @Slot(object)
    def _resume_run(self, run) -> None:
        if self.training_tab.resume(run):
            self.tabs.setCurrentWidget(self.training_tab)

    @Slot(str)
    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    def _follow_status(self, tab) -> None:
        """A tab's messages are shown when they come (news, whichever tab is in front) and kept as its own: the
        status bar shows the tab in front's last message, not one another tab left there."""
        def on_status(text: str) -> None:
            self._statuses[tab] = text
            self.show_status(text)

        tab.status_changed.connect(on_status)

    @Slot(int)
    def _show_tab_status(self, _index: int) -> None:
        page = self.tabs.currentWidget()
        tab = page.tab if isinstance(page, LazyTab) and page.is_built() else page
        self.status_label.setText(self._statuses.get(tab, ""))

    @Slot()
    def _tab_names(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    @Slot()
    def _shortcuts(self) -> None:
        help_content.shortcuts_dialog(self, self._tab_names()).exec()

    @Slot()
    def _user_guide(self) -> None:
        help_content.user_guide_dialog(self).exec()

    @Slot()
    def _open_runs_folder(self) -> None:
        folder = self.training_tab.store.root
        if not help_content.open_folder(folder):
            QMessageBox.information(self, "Runs folder", f"Your runs are in {folder}")

    def _about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}",
                          f"<b>{APP_NAME}</b> {help_content.app_version()}<br>Train, inspect and use autoencoders.<br>"
                          "Built on PySide6, TensorFlow/Keras 3, matplotlib and scikit-image.<br>"
                          "The built-in digits are a subset of MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0).")

    def _fit_to_screen(self, width: int, height: int) -> None:
        """Open at `width` x `height`, shrunk to the screen's free area so the status bar is never
        below its edge on a small (e.g. 1280x800) screen."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            free = screen.availableGeometry()
            frame = 40  # title bar and borders the window manager adds around the window
            width, height = min(width, free.width()), min(height, free.height() - frame)
        self.resize(width, height)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self.tabs.setCurrentIndex(int(self.settings.value("window/tab", 0) or 0))
        for tab in self._all_tabs():
            tab.restore_settings(self.settings)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        for tab in self._all_tabs():
            tab.save_settings(self.settings)
        self.settings.sync()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.training_tab.plots.load_in_background()  # on whichever tab it opens: TensorFlow's warm-up follows them

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Stop any running job (training keeps nothing half-written) before closing."""
        self._closed = True
        if self.training_tab.runner.is_running():
            self.show_status("Stopping training before closing…")
        self.save_settings()
        for runner in (*(tab.runner for tab in self._all_tabs()), self.warm_up):
            runner.wait(15000)  # stops the job; the best model so far is still delivered
        stop_all(timeout_ms=5000)
        super().closeEvent(event)

