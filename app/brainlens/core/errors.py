"""Typed errors whose message is the one line a user sees (dialog in the GUI, stderr in the CLI)."""


class BrainLensError(Exception):
    """Base for every error that is the user's input, not our bug."""


class LoadError(BrainLensError):
    """A file or folder could not be read as a study."""


class ModelError(BrainLensError):
    """A bundled model is missing, tampered with, or does not fit the input."""


class InputError(BrainLensError):
    """Arguments or data that the requested operation cannot use."""


class Cancelled(BrainLensError):
    """The user cancelled a long operation."""
