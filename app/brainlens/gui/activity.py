"""The activity area: one place in the status bar that follows every job on the runner.

It shows the newest running job's name, stage text and percentage, and its Cancel button cancels that job.
It listens to ``JobRunner.job_started`` / ``job_finished``; no caller has to remember to report to it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from brainlens.jobs.runner import JobHandle, JobRunner


class ActivityArea(QWidget):
    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs: list[JobHandle] = []
        self.stage = QLabel("")
        self.stage.setMinimumWidth(120)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(200)
        self.progress.setFormat("%p%")
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the running job (nothing half-done is kept)")
        self.cancel_button.clicked.connect(self.cancel_current)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.stage)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        runner.job_started.connect(self._on_started)
        runner.job_finished.connect(self._on_finished)
        self._show()

    @property
    def current(self) -> JobHandle | None:
        return self.jobs[-1] if self.jobs else None

    def cancel_current(self) -> None:
        if self.current is not None:
            self.current.cancel()
            self.stage.setText(f"{self.current.name}: cancelling...")

    def _on_started(self, job: JobHandle) -> None:
        self.jobs.append(job)
        job.progress.connect(lambda f, m, j=job: self._on_progress(j, f, m))
        self._show()

    def _on_finished(self, job: JobHandle) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        self._show()

    def _on_progress(self, job: JobHandle, fraction: float, message: str) -> None:
        if job is self.current:
            self.progress.setValue(int(fraction * 1000))
            self.stage.setText(f"{job.name}: {message}" if message else job.name)

    def _show(self) -> None:
        busy = self.current is not None
        for w in (self.stage, self.progress, self.cancel_button):
            w.setVisible(busy)
        if busy:
            self.progress.setValue(0)
            self.stage.setText(self.current.name)  # type: ignore[union-attr]
