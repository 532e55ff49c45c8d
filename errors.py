"""The user's-mistake family: `run.py` prints such an error as one `error:` line and exits 2; any other exception
is a bug of ours and keeps its traceback (exit 1)."""
from __future__ import annotations


class UserError(Exception):
    """Something the user can fix (a flag, a setting, a file, a device); the message names it and the fix."""


class ConfigError(UserError, ValueError):
    """A configuration value is unknown or of the wrong type."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named, or an earlier step should have made, is not there (or cannot be read)."""


class MissingPackageError(UserError, ImportError):
    """An optional package a command needs is not installed; the message names the pip extra."""
