"""The one exception type dalib raises for bad input.

Every message is one line that names the problem and the fix; the CLI prints it
without a traceback.
"""


class DalibError(ValueError):
    """Bad input or a failed run, with a one-line message naming the problem and the fix."""
