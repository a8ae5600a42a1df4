"""Errors a user can cause and fix: shown as one line, never as a traceback."""


class UserError(Exception):
    """Bad input, a bad file or a bad setting; the message names what and where."""
