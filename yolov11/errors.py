"""The one exception type for bad input: its message names the file, line or field at fault.

A message about a setting starts with its flag: ``--epochs 0: must be a positive integer``
(``--data : ...`` when none was given). The CLI prints it as one line and exits 2; the app
reads the flag back (``UserError.parts``) to say it in the words of its form, next to the field.
"""

import re

FLAG_MESSAGE = re.compile(r"(--[a-z][a-z0-9-]*(?: or --[a-z][a-z0-9-]*)?)( (?P<value>.*?))?: (?P<detail>.*)", re.S)


class UserError(ValueError):
    """Input the user can fix (a broken zip, a wrong label line, a bad flag)."""

    def parts(self) -> tuple[str | None, str | None, str]:
        """``(flag, value, what is wrong)`` of a "--flag value: what is wrong" message: value ""
        when the flag was given nothing, None when the message names no value ("--data: pick
        one"); ``(None, None, message)`` for a message that names no flag."""
        return message_parts(str(self))


def message_parts(message: str) -> tuple[str | None, str | None, str]:
    """See UserError.parts."""
    m = FLAG_MESSAGE.fullmatch(message)
    if not m:
        return None, None, message
    return m.group(1), m.group("value"), m.group("detail")


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
