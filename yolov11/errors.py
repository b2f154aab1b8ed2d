"""The one exception type for bad input: its message names the file, line or field at fault.

The CLI prints it as one line and exits 2; the app shows it next to the control that caused it.
"""


class UserError(ValueError):
    """Input the user can fix (a broken zip, a wrong label line, a bad flag)."""


def plain(exc: BaseException, limit: int = 240) -> str:
    """A library's exception message as one plain line: Ultralytics' "ERROR ❌️" prefixes and line
    breaks removed, cut at ``limit`` characters."""
    import re

    return " ".join(re.sub(r"ERROR ❌️? ?|❌️?", "", str(exc)).split())[:limit]


def os_error_text(exc: OSError) -> str:
    """An OSError in the user's words: a full disk says so, others say what failed."""
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the workspace disk is full: free some space and try again"
    if exc.errno == errno.ENAMETOOLONG:
        return f"a file name is too long for this filesystem ({exc.filename})"
    return f"{exc.strerror or type(exc).__name__}: {exc.filename or exc}"
