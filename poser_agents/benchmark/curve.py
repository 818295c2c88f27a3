"""The training loop's hooks of ``poser benchmark run``: the learning curve's val points, and a
clean stop on SIGINT/SIGTERM.

:func:`curve_callback` is the SB3 callback that calls the runner's evaluation on a fixed grid
of steps (every ``eval_every``; a resumed run goes on on the same grid) and, once a signal has
been caught (:func:`poser_agents.common.checkpointing.stop_on_signals`), lets the runner
checkpoint the step it reached and ends ``learn``; the runner then raises
:class:`RunInterrupted` (exit code 130 or 143 in the CLI). ``kill -9`` cannot be caught: it
loses the steps since the last val point's checkpoint.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from poser_agents.common.checkpointing import Interrupted, StopRequest


class RunInterrupted(Interrupted):
    """SIGINT or SIGTERM stopped a run's training, which saved a checkpoint at ``step`` first
    (``saved``; False when the save failed: the previous checkpoint stays the one to resume)."""

    def __init__(self, signum: int, folder: Path, step: int, saved: bool):
        super().__init__(signum)
        self.folder, self.step, self.saved = folder, step, saved

    def __str__(self) -> str:
        kept = "its checkpoint saved there" if self.saved else "no checkpoint saved (the last one stays)"
        return (
            f"{self.folder}: stopped by {signal.Signals(self.signum).name} at step {self.step}, {kept}: "
            "run the same command again to resume it"
        )


def curve_callback(
    every: int,
    total: int,
    on_eval: Callable[[int], None],
    start: int = 0,
    stop: StopRequest | None = None,
    on_stop: Callable[[int], None] | None = None,
) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class CurveCallback(BaseCallback):
        """Evaluates on val every ``every`` env steps (SB3 calls ``_on_step`` after each env step);
        after a signal (``stop``), calls ``on_stop`` with the step and ends ``learn``.

        A point at or past ``total`` is left to the caller, after ``learn`` returns: SB3 calls
        ``_on_step`` while it collects a rollout and updates only afterwards (off-policy: every
        ``train_freq`` steps; on-policy: every ``n_steps``), so a point taken here at the last
        step would score the policy before its last update.
        """

        def __init__(self) -> None:
            super().__init__()
            self.next_eval = (start // every + 1) * every  # a resumed run: the next point after ``start``

        def _on_step(self) -> bool:
            if stop is not None and stop.requested and on_stop is not None:
                on_stop(int(self.num_timesteps))
                return False
            if self.next_eval <= self.num_timesteps < total:
                on_eval(int(self.num_timesteps))
                self.next_eval += every
            return True

    return CurveCallback()
