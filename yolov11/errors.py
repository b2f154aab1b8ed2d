"""The one exception type for bad input: its message names the file, line or field at fault.

The CLI prints it as one line and exits 2; the app shows it next to the control that caused it.
"""


class UserError(ValueError):
    """Input the user can fix (a broken zip, a wrong label line, a bad flag)."""
