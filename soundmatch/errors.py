"""Errors a user can cause and fix: the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A mistake in the user's input (unknown name, bad file, silent target ...).

    The message is the whole story: it names the input and says how to fix it.
    The CLI prints it on one line, without a traceback, and exits with code 2.
    """
