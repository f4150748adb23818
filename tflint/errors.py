"""Errors that are the user's input's fault, shown as one line per file."""

from __future__ import annotations


class ModelFileError(Exception):
    """A model file cannot be read or understood.

    The message is shown to the user as ``PATH: error: MESSAGE``; it must name
    what is wrong in the user's terms, without a traceback.
    """


class UsageError(Exception):
    """The command line or the configuration is invalid."""
