"""The ``embedkit`` command group, the error-to-exit-code mapping, and the helpers every command uses.

This module imports no command module. Each command family lives in its own module beside this one
(:mod:`.store`, :mod:`.words`, :mod:`.sentences`, :mod:`.media`, ...) and registers on the groups
defined here with :func:`command`; :mod:`embedkit.cli` imports the families in the order ``--help``
lists them.

Errors are translated once, here: an :class:`~embedkit.errors.EmbedkitError` prints ``error: ...``
on stderr and exits with :func:`~embedkit.errors.exit_code`; a usage error (unknown option, bad
choice, missing file) prints one ``error:`` line and exits 2; unreadable files and interrupted runs
exit cleanly too. No traceback reaches the user unless ``EMBEDKIT_DEBUG=1`` is set.
"""

from __future__ import annotations

import errno
import json
import os

import click

from .. import __version__
from ..errors import EmbedkitError, exit_code

__all__ = ["main", "train", "evaluate", "classify", "command", "group", "echo_json", "FAMILIES"]

#: The command families in the order ``embedkit --help`` lists them.
FAMILIES = (
    "Store and search",
    "Word vectors",
    "Images and audio",
    "Training and evaluation",
    "Analysis",
    "Applications",
    "Service",
)


class _Group(click.Group):
    """A click group that turns errors into one line and an exit code, and lists commands by family."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EmbedkitError as exc:
            if os.environ.get("EMBEDKIT_DEBUG"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exit_code(exc))
        except click.UsageError as exc:
            if os.environ.get("EMBEDKIT_DEBUG"):
                raise
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            ctx.exit(2)
        except (OSError, UnicodeDecodeError) as exc:
            if os.environ.get("EMBEDKIT_DEBUG") or getattr(exc, "errno", None) == errno.EPIPE:
                raise  # a closed pipe (`| head`): click ends quietly
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)

    def list_commands(self, ctx):
        return list(self.commands)  # registration order, not alphabetical

    def format_commands(self, ctx, formatter):
        """List the commands under one heading per family, in :data:`FAMILIES` order."""
        sections: dict[str, list] = {}
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            family = getattr(cmd, "family", None) or "Commands"
            sections.setdefault(family, []).append((name, cmd.get_short_help_str(limit=90)))
        order = {f: i for i, f in enumerate(FAMILIES)}
        for family in sorted(sections, key=lambda f: order.get(f, len(order))):
            with formatter.section(family):
                formatter.write_dl(sections[family])


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="embedkit")
def main():
    """embedkit: embed text, words, images and audio; store vectors; search them."""


def command(name: str | None = None, *, family: str, group: click.Group = main, **kwargs):
    """Register a command on ``group`` under a ``--help`` family (one of :data:`FAMILIES`)."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown command family {family!r}; known: {', '.join(FAMILIES)}")

    def decorator(fn):
        cmd = group.command(name, **kwargs)(fn)
        cmd.family = family
        return cmd

    return decorator


def group(name: str, *, family: str, help: str):  # noqa: A002 - click's word
    """Register a command group (``embedkit NAME ...``) under a ``--help`` family."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown command family {family!r}; known: {', '.join(FAMILIES)}")
    grp = main.group(name, cls=_Group, help=help)(lambda: None)
    grp.family = family
    return grp


@main.group(cls=_Group)
def train():
    """Train models (word vectors, sentence encoders, audio SimCLR, ...)."""


@main.group(cls=_Group)
def evaluate():
    """Evaluate encoders (word similarity, analogies, STS, retrieval, ...)."""


@main.group(cls=_Group)
def classify():
    """Text classifiers: train one (frozen vectors, TF-IDF, fine-tuned, few-shot) and predict."""


train.family = evaluate.family = classify.family = "Training and evaluation"


def echo_json(obj) -> None:
    """Print one JSON document on stdout (UTF-8, not ASCII-escaped)."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))
