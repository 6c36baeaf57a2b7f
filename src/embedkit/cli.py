"""The ``embedkit`` command.

Errors are translated once, here: an :class:`~embedkit.errors.EmbedkitError` prints ``error: ...``
on stderr and exits with :func:`~embedkit.errors.exit_code`; unreadable files and interrupted runs
exit cleanly too. No traceback reaches the user unless ``EMBEDKIT_DEBUG=1`` is set.

Commands from other parts of the package register themselves on :data:`main`, :data:`train` and
:data:`evaluate` in their own ``cli_*`` modules, imported at the end of this file.
"""

from __future__ import annotations

import json
import os
import sys

import click

from . import __version__
from .errors import EmbedkitError, exit_code

__all__ = ["main"]


class _Group(click.Group):
    """A click group that turns embedkit errors into one line and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EmbedkitError as exc:
            if os.environ.get("EMBEDKIT_DEBUG"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exit_code(exc))
        except (OSError, UnicodeDecodeError) as exc:
            if os.environ.get("EMBEDKIT_DEBUG"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="embedkit")
def main():
    """embedkit: embed text, store vectors, search them."""


@main.group(cls=_Group)
def train():
    """Train models (word vectors, ...)."""


@main.group(cls=_Group)
def evaluate():
    """Evaluate encoders (word similarity, analogies, STS, retrieval, ...)."""


def echo_json(obj) -> None:
    """Print one JSON document on stdout (UTF-8, not ASCII-escaped)."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def fail(message: str, code: int = 2) -> None:
    """Exit with a one-line error (for checks the CLI does itself)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# Command modules register on the groups above; imported last so they can import this module.
from . import cli_store  # noqa: E402,F401
from . import cli_sentences  # noqa: E402,F401
from . import cli_words  # noqa: E402,F401
from . import cli_media  # noqa: E402,F401
