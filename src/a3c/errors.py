"""The one exception type that the CLI turns into a single error line and exit code 2."""


class UserError(Exception):
    """Bad input from the user: a wrong flag value, a missing file, an unknown game id.

    The CLI prints ``a3c: error: <message>`` on stderr and exits with code 2, without a
    traceback (``--debug`` shows one).
    """
