"""Optional dependencies: each belongs to an extra of the package, and a missing one says which.

    nbformat = require("nbformat", "course", "writing a kit (its starter notebook)")

raises :class:`MissingExtra` (an ImportError) whose message is one line naming the extra to install:
``writing a kit (its starter notebook) needs nbformat: pip install 'minidense[course]'``. The command line
prints it after ``minidense:`` and exits with status 2. The extras are declared in the package's metadata
(``[options.extras_require]``). Callers check before they write anything, so nothing is left half-done.
"""


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def require(module, extra, needed_by, package=None):
    """The module ``module``, imported; MissingExtra naming ``extra`` when it is not installed.

    needed_by: what needs it, as the user called it (a command or a function); package: the name pip
    knows it by, where that differs from the module's (``scikit-learn`` for ``sklearn``).
    """
    try:
        return __import__(module, fromlist=["__name__"])   # the module itself, not its top package
    except ImportError as exc:
        if exc.name is not None and module != exc.name and not module.startswith(exc.name + "."):
            raise   # the package is there but one of its own imports fails: a broken install, shown as it is
        raise MissingExtra(f"{needed_by} needs {package or module}: pip install 'minidense[{extra}]'") from None
