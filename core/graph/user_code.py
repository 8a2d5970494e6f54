"""How a job's functions travel to the TaskManagers: cloudpickle, with their file names and
source lines kept, so that a user's traceback from a TaskManager reads as it would locally.

cloudpickle ships functions that cannot be imported by name (those of the job's own file,
lambdas, closures) by value, code objects included. From 3.1.3 on it writes every code
object's ``co_filename`` as ``"<dynamic-code>"``, and a TaskManager on another machine has
no copy of the job's file to read source lines from anyway. So this pickler:

1. writes each code object with ``marshal``, which keeps ``co_filename`` (and that of the
   code objects nested in it) whatever the cloudpickle version;
2. adds the text of the files these code objects come from, unless the file belongs to
   an installed package (the standard library, site-packages, weir itself), which the
   TaskManager has of its own; one payload carries each file's text once (pickle's memo);
3. on unpickling, ``_restore_code`` registers those texts with ``linecache`` under their
   original paths before it returns the code object, so ``traceback`` finds the lines.

The TaskManager needs nothing but ``cloudpickle.loads``: the payload names
``_restore_code``, which pickle imports from this module.
"""

from __future__ import annotations

import io
import linecache
import marshal
import sys
import sysconfig
import types
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import cloudpickle

__all__ = ["UserCodePickler", "dumps"]

_FRAMEWORK = "weir"


def dumps(obj: object) -> bytes:
    """``cloudpickle.dumps(obj)``, with code objects that keep their file name and source."""
    with io.BytesIO() as file:
        UserCodePickler(file).dump(obj)
        return file.getvalue()


class UserCodePickler(cloudpickle.Pickler):
    """A cloudpickle Pickler that writes code objects as ``_restore_code`` calls.

    One instance pickles one payload: it caches, per file name, the text it ships (the
    same ``str`` object each time, so pickle's memo writes it once).
    """

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self._texts: dict[str, str | None] = {}
        self._installed: _InstalledFiles | None = None

    def reducer_override(self, obj: Any) -> Any:
        """Code objects go through ``_restore_code``; everything else as cloudpickle does.

        Returning ``NotImplemented`` (a code object that ``marshal`` cannot write, e.g. one
        built with non-constant ``co_consts``) falls back to cloudpickle's own reducer.
        """
        if type(obj) is types.CodeType:
            try:
                marshalled = marshal.dumps(obj)
            except ValueError:
                return NotImplemented
            return _restore_code, (marshalled, self._sources(obj))
        return super().reducer_override(obj)

    def _sources(self, code: types.CodeType) -> dict[str, str]:
        """The texts to ship for the files of ``code`` and of the code objects nested in it."""
        sources = {}
        for filename in {c.co_filename for c in _code_tree(code)}:
            if filename not in self._texts:
                self._texts[filename] = self._read_source(filename)
            text = self._texts[filename]
            if text is not None:
                sources[filename] = text
        return sources

    def _read_source(self, filename: str) -> str | None:
        """The file's text, or None when it is installed or unknown (e.g. ``<string>``)."""
        if self._installed is None:
            self._installed = _InstalledFiles()
        if self._installed.contains(filename):
            return None
        # linecache also knows sources that are not files, e.g. IPython's cells.
        return "".join(linecache.getlines(filename)) or None


def _restore_code(marshalled: bytes, sources: dict[str, str]) -> types.CodeType:
    """Unpickling counterpart of ``UserCodePickler``: register the sources, load the code.

    Payloads name this function, so its name and arguments are part of the wire format
    between a client and the TaskManagers. The latest payload's text wins for a path
    (entries without mtime, as ``linecache.lazycache`` makes, are never reloaded from disk:
    the text shown is the one the job was submitted with).
    """
    for filename, text in sources.items():
        lines = text.splitlines(keepends=True)
        linecache.cache[filename] = (len(text), None, lines, filename)
    code = marshal.loads(marshalled)
    if not isinstance(code, types.CodeType):
        raise TypeError(f"expected a marshalled code object, got {type(code).__name__}")
    return code


def _code_tree(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and the code objects nested in its constants (lambdas, inner functions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_tree(const)


class _InstalledFiles:
    """Files a TaskManager has of its own: the standard library, installed packages, and
    weir's modules (which an editable install keeps outside site-packages)."""

    def __init__(self) -> None:
        names = ("stdlib", "platstdlib", "purelib", "platlib")
        self._roots = {Path(path).resolve() for path in map(sysconfig.get_path, names) if path}
        self._framework = {_resolved(path) for name, path in _module_files()
                           if name.partition(".")[0] == _FRAMEWORK}

    def contains(self, filename: str) -> bool:
        """Whether ``filename`` is one of these files (a pseudo-name like ``<stdin>`` is not)."""
        path = _resolved(filename)
        return path in self._framework or any(path.is_relative_to(root) for root in self._roots)


def _module_files() -> list[tuple[str, str]]:
    """(name, file) of every loaded module that has a file."""
    modules = list(sys.modules.items())  # a copy: imports on other threads change the dict
    return [(name, path) for name, module in modules
            if isinstance(path := getattr(module, "__file__", None), str)]


def _resolved(filename: str) -> Path:
    return Path(filename).resolve()

