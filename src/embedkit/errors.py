"""The one exception tree of embedkit, and its two translations at the edges.

::

    EmbedkitError
    ├── InvalidInput (ValueError)         bad argument or data: empty, wrong type, NaN, ...
    │   └── DimensionMismatch             a vector of the wrong length
    ├── ModelNotFound (LookupError)       no model at that spec, or it cannot be fetched
    ├── BackendUnavailable (ImportError)  an optional dependency is missing
    ├── StoreError                        the vector store cannot do what was asked
    │   ├── StoreNotFound                 no store at that path
    │   ├── StoreCorrupt                  the file is not a readable store
    │   ├── StaleResult                   a hit's item changed between the search and reading it
    │   └── ModelMismatch                 the store was made by another model
    └── NotFitted                         a trainer used before ``fit``

Every error raised on purpose by embedkit is one of these. The CLI maps them to exit codes with
:data:`EXIT_CODES`; the HTTP service maps them to statuses with :data:`HTTP_STATUS`.
"""

from __future__ import annotations

__all__ = [
    "EmbedkitError",
    "InvalidInput",
    "DimensionMismatch",
    "ModelNotFound",
    "BackendUnavailable",
    "StoreError",
    "StoreNotFound",
    "StoreCorrupt",
    "ModelMismatch",
    "StaleResult",
    "NotFitted",
    "exit_code",
    "http_status",
    "require",
]


class EmbedkitError(Exception):
    """Base of every error embedkit raises on purpose."""


class InvalidInput(EmbedkitError, ValueError):
    """An argument or an input item is not what was expected."""


class DimensionMismatch(InvalidInput):
    """A vector does not have the dimension the model or store expects."""


class ModelNotFound(EmbedkitError, LookupError):
    """No model could be found or fetched for a spec."""


class BackendUnavailable(EmbedkitError, ImportError):
    """An optional dependency needed for this feature is not installed."""


class StoreError(EmbedkitError):
    """The vector store cannot do what was asked."""


class StoreNotFound(StoreError):
    """There is no store at the given path."""


class StoreCorrupt(StoreError):
    """The file exists but is not a readable embedkit store."""


class StaleResult(StoreError):
    """A search hit's item was deleted or replaced before its text was read: search again."""


class ModelMismatch(StoreError):
    """The store's vectors were made by another model or have another dimension."""


class NotFitted(EmbedkitError):
    """A trainer or model was used before it was fitted."""


# Most specific first: the first class an error is an instance of decides.
EXIT_CODES: tuple[tuple[type[EmbedkitError], int], ...] = (
    (InvalidInput, 2),
    (ModelNotFound, 3),
    (BackendUnavailable, 4),
    (StoreError, 5),
    (NotFitted, 6),
    (EmbedkitError, 1),
)

HTTP_STATUS: tuple[tuple[type[EmbedkitError], int], ...] = (
    (InvalidInput, 422),
    (ModelNotFound, 404),
    (StoreNotFound, 404),
    (ModelMismatch, 409),
    (StaleResult, 503),
    (NotFitted, 409),
    (BackendUnavailable, 501),
    (StoreError, 500),
    (EmbedkitError, 500),
)


def exit_code(error: EmbedkitError) -> int:
    """Return the CLI exit code for an embedkit error."""
    return next(code for cls, code in EXIT_CODES if isinstance(error, cls))


def http_status(error: EmbedkitError) -> int:
    """Return the HTTP status for an embedkit error."""
    return next(code for cls, code in HTTP_STATUS if isinstance(error, cls))


def require(module: str, extra: str, feature: str | None = None):
    """Import an optional dependency, or raise :class:`BackendUnavailable` with the install line.

    >>> np = require("numpy", "core")
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = feature or module
        raise BackendUnavailable(
            f"{what} needs the Python package '{module.split('.')[0]}', which is not installed. "
            f"Install it with: pip install 'embedkit[{extra}]'"
        ) from exc
