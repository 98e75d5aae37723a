"""The plugin's error types: each message names the option, file or field at fault."""


class HugError(ValueError):
    """A problem with the user's input; the command line prints it without a traceback."""


class ConfigError(HugError):
    """An unknown model, a missing or ill-typed option, or an unreadable config file."""


class DataError(HugError):
    """A dataset that cannot be found, or an atomic file with a missing or mistyped column."""
