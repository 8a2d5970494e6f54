"""A task's failure as the user reads it: the traceback, and for the mistakes that surface
inside weir's own code rather than in the user's, a last line that says what to fix."""

from __future__ import annotations

import traceback
from pathlib import Path

__all__ = ["describe_failure"]

_RUNTIME = Path(__file__).resolve().parent


def describe_failure(error: BaseException, loading_code: bool = False) -> str:
    """The formatted traceback of ``error``, with a hint when weir knows the cause.

    ``loading_code``: the error happened while the task unpickled the job's functions.
    """
    text = "".join(traceback.format_exception(error))
    hint = _hint(error, loading_code)
    return f"{text}{hint}\n" if hint else text


def _hint(error: BaseException, loading_code: bool) -> str:
    if loading_code and isinstance(error, ImportError):
        module = getattr(error, "name", None) or "a module"
        return (f"hint: the job's functions need {module}, which the TaskManagers cannot "
                "import; install it in the TaskManagers' Python environment, or define the "
                "functions in the job's own file")
    if isinstance(error, TypeError) and str(error).startswith("unhashable type") \
            and _raised_in_runtime(error):
        return ("hint: a key_by() key selector returned an unhashable value; keys must be "
                "hashable (for example a tuple or a str, not a list, dict or set)")
    return ""


def _raised_in_runtime(error: BaseException) -> bool:
    """The innermost frame is weir's TaskManager code, not a user function."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(_RUNTIME)
