"""The one exception type for bad input: its message names the file, line or field at fault.

A message about a setting starts with its flag: ``--epochs 0: must be a positive integer``
(``--data : ...`` when none was given), written from its parts (``field=``, ``value=``,
``detail=``). The CLI prints it as one line and exits 2; the app maps ``field`` to its form's
words (the settings' metadata) and shows ``brief`` (or ``detail``) next to that field.
"""

import re

FLAG_MESSAGE = re.compile(r"(--[a-z][a-z0-9-]*(?: or --[a-z][a-z0-9-]*)?)( (?P<value>.*?))?: (?P<detail>.*)", re.S)


_UNSET = object()


class UserError(ValueError):
    """Input the user can fix (a broken zip, a wrong label line, a bad flag).

    Written whole, ``UserError("site.zip: not a readable zip archive")``, or from its parts,
    ``UserError(field="--epochs", value=0, detail="must be a positive integer")``, whose text is
    the same "--epochs 0: must be a positive integer" (``value=""``: "--data : ...", no value:
    "--run or --weights: ..."). ``brief``: the detail without what only the server's operator
    needs (its paths), for a page to show. A message written whole that starts with a flag has
    its parts read back from the text, so ``field``, ``value`` and ``detail`` are there either way.
    """

    def __init__(self, message: str | None = None, *, field: str | None = None, value: object = _UNSET, detail: str | None = None,
                 brief: str | None = None):
        if message is None:
            named = field if value is _UNSET else f"{field} {value}"
            message = f"{named}: {detail}" if field else str(detail)
        super().__init__(message)
        if field is None:  # written whole: its parts read back from the text
            field, shown, detail = message_parts(message)
        else:
            shown = None if value is _UNSET else f"{value}"
        self.field, self.value, self.detail, self.brief = field, shown, detail, brief

    def parts(self) -> tuple[str | None, str | None, str]:
        """``(flag, value, what is wrong)``: value "" when the flag was given nothing, None when
        the message names no value ("--data: pick one"); ``(None, None, message)`` for a message
        that names no flag."""
        return self.field, self.value, self.detail if self.field else str(self)


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
