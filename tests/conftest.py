"""Shared test set-up. Qt runs offscreen and BrainLens settings go to a throwaway folder, never the user's."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# QSettings of the app are redirected here (see brainlens.gui.settings); set before any test imports Qt.
os.environ.setdefault("BRAINLENS_SETTINGS_DIR", tempfile.mkdtemp(prefix="brainlens-test-settings-"))
# Interactive windows import torch and load the models shortly after start-up; tests opt out (speed, and the
# torch-free start-up checks). Tests of the preload itself call AnalysisController.preload directly.
os.environ.setdefault("BRAINLENS_NO_PRELOAD", "1")
