"""Progress for long work: a tqdm bar on a terminal, log lines everywhere else.

tqdm turns itself off when stderr is not a terminal, so a run whose output goes to a log file (a
batch job, ``nohup``, CI) used to print nothing for hours. :func:`progress` gives the same object
either way:

- on a terminal (or ``enabled=True``): a tqdm bar;
- off a terminal (``enabled=None``, the default): one line on stderr at least every
  ``EMBEDKIT_PROGRESS_INTERVAL`` seconds (30 by default) while the work runs, and a last line when
  it ends, but only for work that ran long enough to print one, so short calls stay silent::

      [embedkit] train: 3.1M/20.0M words (15%), 612k words/s, elapsed 0:00:05, ETA 0:00:27, loss 2.6
- ``enabled=False``: nothing.

The object has the part of tqdm's interface embedkit uses: ``update``, ``set_postfix_str``,
``set_description``, ``n``, ``total``, ``close`` and use as a context manager. A background timer
writes the lines, so a line comes on time even when one step of the work takes minutes.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time

__all__ = ["progress", "LogProgress", "log_interval", "format_count", "format_duration"]


def log_interval() -> float:
    """Seconds between progress lines off a terminal (``EMBEDKIT_PROGRESS_INTERVAL``, default 30)."""
    raw = os.environ.get("EMBEDKIT_PROGRESS_INTERVAL", "")
    try:
        value = float(raw) if raw else 30.0
    except ValueError:
        value = 30.0
    return value if value > 0 and math.isfinite(value) else 30.0


def format_count(n: float, unit_scale: bool) -> str:
    """``1234567`` -> ``1.2M`` with ``unit_scale``, else ``1,234,567``."""
    if not unit_scale:
        return f"{int(n):,}"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.1f}{suffix}"
    return f"{n:.0f}"


def format_rate(rate: float, unit: str, unit_scale: bool) -> str:
    """``612k words/s``; a slow rate keeps its decimals (``0.9 step/s``) or turns round
    (``12.5 s/step``) instead of reading ``0 step/s``."""
    if rate >= 10 or rate <= 0:
        return f"{format_count(rate, unit_scale)} {unit}/s"
    if rate >= 0.1:
        return f"{rate:.2g} {unit}/s" if rate < 1 else f"{rate:.1f} {unit}/s"
    return f"{1 / rate:.1f} s/{unit}"


def format_duration(seconds: float | None) -> str:
    """``h:mm:ss``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class LogProgress:
    """Progress as log lines on a stream, at least every ``interval`` seconds (see module doc)."""

    def __init__(self, total: float | None = None, desc: str = "", unit: str = "item",
                 unit_scale: bool = False, interval: float | None = None, stream=None,
                 rate_in_postfix: bool = False):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.unit_scale = unit_scale
        self.interval = log_interval() if interval is None else float(interval)
        self.stream = stream
        self.rate_in_postfix = rate_in_postfix
        self.n = 0
        self.postfix = ""
        self.lines = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._timer = threading.Thread(target=self._run, name=f"progress:{desc}", daemon=True)
        self._timer.start()

    # tqdm's interface ------------------------------------------------------------------------
    def update(self, n: float = 1) -> None:
        with self._lock:
            self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        self.desc = str(desc)

    def refresh(self) -> None:
        """No-op: lines come from the timer."""

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._timer.join()
        if self.lines:  # a job that printed progress also says that it ended
            self._write(final=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # lines -----------------------------------------------------------------------------------
    def line(self, final: bool = False) -> str:
        """The text of one progress line for the current state."""
        elapsed = time.monotonic() - self._start
        with self._lock:
            n = self.n
        done = format_count(n, self.unit_scale)
        parts = []
        if self.total:
            pct = 100.0 * n / self.total
            parts.append(f"{done}/{format_count(self.total, self.unit_scale)} {self.unit} "
                         f"({pct:.0f}%)")
        else:
            parts.append(f"{done} {self.unit}")
        rate = n / elapsed if elapsed > 0 else 0.0
        if not self.rate_in_postfix:
            parts.append(format_rate(rate, self.unit, self.unit_scale))
        parts.append(f"elapsed {format_duration(elapsed)}")
        if final:
            parts.append("done")
        elif self.total and rate > 0:
            parts.append(f"ETA {format_duration((self.total - n) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        head = f"[embedkit] {self.desc}: " if self.desc else "[embedkit] "
        return head + ", ".join(parts)

    def _write(self, final: bool = False) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        try:
            stream.write(self.line(final) + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must not break the work
            return
        self.lines += 1

    def _run(self) -> None:
        while not self._closed.wait(self.interval):
            self._write()


class _Silent:
    """Progress that shows nothing (``enabled=False``), with the same interface."""

    def __init__(self, total=None, desc=""):
        self.total, self.desc, self.n, self.postfix = total, desc, 0, ""

    def update(self, n=1):
        self.n += n

    def set_postfix_str(self, s="", refresh=True):
        self.postfix = s

    def set_description(self, desc="", refresh=True):
        self.desc = desc

    def refresh(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress(total: float | None = None, desc: str = "", unit: str = "item", *,
             enabled: bool | None = None, unit_scale: bool = False, leave: bool = False,
             bar_format: str | None = None, rate_in_postfix: bool = False):
    """A progress object for ``total`` units of work (see the module doc for what shows where).

    ``enabled``: ``None`` = a bar on a terminal, log lines elsewhere; ``True`` = always a bar;
    ``False`` = nothing. ``rate_in_postfix``: the caller's postfix carries the speed (a trainer's
    own words/s), so the log lines leave theirs out.
    """
    if enabled is False:
        return _Silent(total, desc)
    if enabled is True or _is_terminal(sys.stderr):
        from tqdm.auto import tqdm

        options = dict(total=total, desc=desc, unit=unit, unit_scale=unit_scale, leave=leave,
                       dynamic_ncols=True)
        if bar_format:
            options["bar_format"] = bar_format
        return tqdm(**options)
    return LogProgress(total, desc, unit, unit_scale, rate_in_postfix=rate_in_postfix)
