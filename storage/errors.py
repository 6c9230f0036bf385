"""The project's own exceptions.

Packages raise these for *expected* failures (bad input, missing setting,
unknown id, broken evidence). ``cli.py`` turns any of them into one line on
stderr and exit code 1, with no traceback.
"""


class VeilleError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class ConfigError(VeilleError):
    """A setting is missing or invalid. The message names the setting."""


class WorkspaceError(VeilleError):
    """The workspace is missing, not initialised, or of an unknown version."""


class InputError(VeilleError):
    """Input that cannot be used: bad file, bad record, bad query."""


class NotFoundError(VeilleError):
    """A post, seller, case or other object that does not exist."""


class IntegrityError(VeilleError):
    """Evidence or custody data that does not match its recorded hash."""


class SourceError(VeilleError):
    """A source (site, channel, API) failed or refused access."""


class BlockedError(SourceError):
    """A source answered with a challenge, captcha or access-denied page."""
