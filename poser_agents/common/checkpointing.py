"""Training that survives interruption: periodic checkpoints, and a clean stop on SIGINT/SIGTERM.

- :class:`StopRequest` / :func:`stop_on_signals`: while a training command runs, SIGINT (Ctrl-C)
  and SIGTERM (``kill``, a scheduler's pre-emption) set a flag instead of raising in the middle
  of a step or a save. The trainer checks it at its next safe point, saves, and the command
  exits with one line and the conventional code (130 for SIGINT, 143 for SIGTERM). A second
  signal, or one that arrives where nothing can be saved (``deferred=False``), raises
  :class:`Interrupted` at once (the CLI prints one line for it too).
- :class:`PeriodicCheckpoint`: an SB3 callback that saves every ``every_steps`` env steps or
  ``every_seconds`` seconds, whichever comes first, and stops ``learn`` when a stop was asked.
- Saves are atomic in the agents themselves (``DQNAgent.save`` / ``GRPOAgent.save`` go through
  :func:`poser_agents.common.checkpoint.write_checkpoint`): a kill during a save leaves the previous
  checkpoint or the new one, never a mix.
- :func:`trim_logs`: on resume, drop the CSV rows written after the checkpoint (and a row torn
  by a kill), so the logs go on from the checkpoint's step without duplicates.

``kill -9`` cannot be caught: it loses the steps since the last periodic checkpoint, which is
what the interval bounds. See ``docs/dqn.md`` and ``docs/grpo.md``.
"""

from __future__ import annotations

import csv
import io
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from poser_agents.common.checkpoint import atomic_write_text

#: Defaults of ``poser train dqn``: at most 5,000 steps (about 30 s at the measured ~190 steps/s)
#: or 120 s of work is lost to a ``kill -9``, whichever is less.
DEFAULT_EVERY_STEPS = 5_000
DEFAULT_EVERY_SECONDS = 120.0

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(Exception):
    """A signal stopped the command where it could not save (or a second signal arrived)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


class StopRequest:
    """Set by the signal handler; checked by the trainer at its safe points."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.deferred = True

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum) if self.signum is not None else 0

    @contextmanager
    def immediate(self) -> Iterator[None]:
        """Within this block a signal raises :class:`Interrupted` at once (nothing to save yet)."""
        if self.signum is not None:
            raise Interrupted(self.signum)
        before, self.deferred = self.deferred, False
        try:
            yield
        finally:
            self.deferred = before


@contextmanager
def stop_on_signals(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[StopRequest]:
    """Route ``signals`` to a :class:`StopRequest` while the block runs; restore the handlers after.

    Outside the main thread (where Python cannot install handlers) the request is never set.
    """
    stop = StopRequest()

    def handler(signum: int, frame: Any) -> None:
        if stop.requested or not stop.deferred:
            stop.signum = stop.signum or signum
            raise Interrupted(signum)
        stop.signum = signum

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class PeriodicCheckpoint(BaseCallback):
    """Save every ``every_steps`` env steps or ``every_seconds`` seconds; stop ``learn`` on a signal.

    :param save: called with no argument to write the checkpoint (e.g. ``lambda: agent.save(out)``).
    :param stop: the :class:`StopRequest` of :func:`stop_on_signals` (None: signals are not watched).
    """

    def __init__(
        self,
        save: Callable[[], Any],
        every_steps: int | None = DEFAULT_EVERY_STEPS,
        every_seconds: float | None = DEFAULT_EVERY_SECONDS,
        stop: StopRequest | None = None,
        verbose: int = 0,
    ):
        super().__init__(verbose)
        for name, v in (("every_steps", every_steps), ("every_seconds", every_seconds)):
            if v is not None and not v > 0:
                raise ValueError(f"{name} must be positive or None, got {v!r}")
        self.save, self.every_steps, self.every_seconds, self.stop = save, every_steps, every_seconds, stop
        self.saves = 0
        self._last_step = 0
        self._last_time = 0.0

    def _on_training_start(self) -> None:
        self._last_step, self._last_time = self.num_timesteps, time.monotonic()

    def _on_step(self) -> bool:
        if self.stop is not None and self.stop.requested:
            return False  # learn() returns; the caller saves once, then exits
        due = (self.every_steps is not None and self.num_timesteps - self._last_step >= self.every_steps) or (
            self.every_seconds is not None and time.monotonic() - self._last_time >= self.every_seconds
        )
        if due:
            self.save()
            self.saves += 1
            self._last_step, self._last_time = self.num_timesteps, time.monotonic()
        return True


def trim_logs(log_dir: str | Path, num_timesteps: int) -> dict[str, int]:
    """Drop the rows of ``progress.csv`` / ``episodes.csv`` / ``eval.csv`` logged after step
    ``num_timesteps`` (work a kill lost) and any torn row; returns the rows dropped per file."""
    dropped: dict[str, int] = {}
    columns = {"progress.csv": "time/total_timesteps", "episodes.csv": "timesteps", "eval.csv": "timesteps"}
    for name, column in columns.items():
        path = Path(log_dir) / name
        if not path.is_file():
            continue
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or column not in rows[0]:
            continue
        header, i = rows[0], rows[0].index(column)
        kept = [r for r in rows[1:] if _row_within(r, len(header), i, num_timesteps)]
        dropped[name] = len(rows) - 1 - len(kept)
        if dropped[name]:
            text = io.StringIO(newline="")
            csv.writer(text).writerows([header, *kept])
            atomic_write_text(path, text.getvalue())
    return dropped


def _row_within(row: list[str], width: int, column: int, num_timesteps: int) -> bool:
    """A whole row (not torn by a kill) logged at or before ``num_timesteps``."""
    try:
        return len(row) == width and float(row[column]) <= num_timesteps
    except ValueError:
        return False
