"""The episode state of :class:`~poser_env.env.ImagePoserEnv`, and the env's plain helpers.

Kept apart from ``env.py`` so that the env module holds the MDP and its card; nothing here
depends on the env object.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from poser_env.experts.base import ExpertOutputError, validate_output
from poser_env.observation import ObservationInput
from poser_env.registry import ComponentSpec, ExpertRegistry
from poser_env.types import Canvas, Check, Command, Task, Verdict
from poser_env.world.checks import SAME_POSITION_TOLERANCE, preserve_match
from poser_env.world.render import render
from poser_env.world.scene import Scene


@dataclass
class Episode:
    """One episode's state (``env.snapshot()`` deep-copies it)."""

    task: Task
    commands: list[Command]
    checks: list[Check]
    queue: list[int]
    canvas: Canvas
    verdict: Verdict
    potential: float
    accepted: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    deferred: set[int] = field(default_factory=set)
    attempts: int = 0
    steps: int = 0
    cost: float = 0.0
    tried: set[int] = field(default_factory=set)
    log: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None  # set when the episode ends
    not_understood: list[str] = field(default_factory=list)  # prompt spans no check speaks for
    coverage: float = 1.0  # share of the prompt's content words outside those spans
    degraded: tuple[bool, ...] = ()  # Drift: the experts degraded this episode (hidden)
    budget_spent: bool = False  # the cost budget ended the episode
    last_error: bool = False  # the last step's expert call returned no image (the ``error`` key)
    deadline_reached: bool = False  # step_slack's deadline ended the episode (terminated)
    # (verdict, current command, accepted count) -> feedback: see feedback().
    _feedback_memo: tuple[Verdict, int | None, int, str] | None = field(default=None, repr=False, compare=False)

    def checks_so_far(self, current: int) -> list[Check]:
        """The checks of the accepted commands and of command ``current``: what the canvas must show now."""
        return unique_checks([c for i in [*self.accepted, current] for c in self.commands[i].checks])

    def feedback(self) -> str:
        """The critic's reflection on the current command and the accepted ones (on the whole
        verdict once no command is left).

        The one builder of ``info["feedback"]``, ``episode_context()["feedback"]`` and a
        retry's reflection: they read the same state between two steps, so it is built once
        per state (verdict, current command, commands accepted) instead of once per reader."""
        current = self.queue[0] if self.queue else None
        memo = self._feedback_memo
        if memo is not None and memo[0] is self.verdict and memo[1] == current and memo[2] == len(self.accepted):
            return memo[3]
        text = (
            self.verdict.subset(self.checks_so_far(current)).feedback if current is not None else self.verdict.feedback
        )
        self._feedback_memo = (self.verdict, current, len(self.accepted), text)
        return text

    def instruction(self, modality: str, current: int) -> str:
        """What an expert is asked for command ``current``: a text-to-image expert redraws the
        whole image, so it gets the accepted commands too; an editor gets the command alone."""
        if modality == "t2i":
            return " ".join(self.commands[i].text for i in [*self.accepted, current])
        return self.commands[current].text

    def judge_attempt(
        self, current: int, new_canvas: Canvas | None, new_verdict: Verdict | None, keep_best: bool, max_attempts: int
    ) -> bool:
        """Apply one expert attempt on command ``current`` (the queue's head); whether it passed.

        The command passes when its own checks pass and nothing that passed before broke: a
        redraw that loses an earlier object, or a recolour that bleeds onto a kept one, is a
        failed attempt. A failed attempt keeps the better canvas (``keep_best``): the new one if
        it scores higher on what the canvas must show now, or as high without breaking anything
        that held (a tie that trades a kept object for progress is no gain). ``new_verdict`` is
        None when the expert failed (an error): a failed attempt that changes nothing. After
        ``max_attempts`` failed attempts the command is dropped (recorded as failed)."""
        relevant = set(self.checks_so_far(current))
        current_checks = set(self.commands[current].checks)
        held = {r.check for r in self.verdict.results if r.passed and r.check in relevant}
        passed = new_verdict is not None and all(
            r.passed for r in new_verdict.results if r.check in current_checks or r.check in held
        )
        if passed:
            self.canvas, self.verdict = new_canvas, new_verdict  # type: ignore[assignment]
            self.accepted.append(self.queue.pop(0))
            self.attempts, self.tried = 0, set()
            return True
        if new_verdict is not None:
            new_score, old_score = _score_on(new_verdict, relevant), _score_on(self.verdict, relevant)
            broke = any(not r.passed for r in new_verdict.results if r.check in held)
            better = new_score > old_score or (new_score == old_score and not broke)
            if better or not keep_best:
                self.canvas, self.verdict = new_canvas, new_verdict  # type: ignore[assignment]
        self.attempts += 1
        if self.attempts >= max_attempts:
            self.failed.append(self.queue.pop(0))
            self.attempts, self.tried = 0, set()
        return False

    def log_step(self, info: Mapping[str, Any], reward: float, extra: Mapping[str, Any]) -> None:
        """One row of the step log (the summary's ``log``) from a step's ``info``."""
        self.log.append(
            {
                "step": info["step"],
                "expert": info["expert"],
                "cost": info["cost"],
                "command": extra.get("acted_on", ""),  # the command the action was taken on
                "kind": extra.get("acted_kind", ""),
                "reward": float(reward),
                "command_passed": bool(info.get("command_passed", False)),
                "feedback": info["feedback"],  # the reflection now (for the next attempt)
                "error": info.get("error", ""),
            }
        )

    def observation_input(
        self, max_steps: int, max_attempts: int, n_actions: int, action_mask: np.ndarray
    ) -> ObservationInput:
        """What the observation encodes (``observation.py``): the prompt, the current command and
        those left, the canvas, the verdict on the current command, and the counters."""
        current = self.queue[0] if self.queue else None
        cmd = self.commands[current] if current is not None else None
        current_checks = set(cmd.checks) if cmd else set()
        results = [r for r in self.verdict.results if r.check in current_checks]
        tried = np.zeros(n_actions, np.float32)
        tried[list(self.tried)] = 1.0
        return ObservationInput(
            prompt=self.task.prompt,
            instruction=cmd.text if cmd else "",
            remaining=[self.commands[i].text for i in self.queue[1:]],
            image=self.canvas.image,
            verdict=self.verdict,
            command_kind=cmd.kind if cmd else None,
            command_pass=(sum(r.passed for r in results) / len(results)) if results else 1.0,
            step=self.steps,
            max_steps=max_steps,
            command_index=len(self.accepted) + len(self.failed),
            n_commands=len(self.commands),
            attempts=self.attempts,
            max_attempts=max_attempts,
            n_failed=len(self.failed),
            tried=tried,
            action_mask=action_mask,
        )

    def info(
        self, expert: str, expert_index: int, cost: float, action_mask: np.ndarray, extra: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A step's ``info`` (keys on the env card): the task, the commands and the current one,
        the verdict and the reflection, what the step did (``extra``)."""
        current = self.queue[0] if self.queue else None
        info = {
            "task_id": self.task.id,
            "prompt": self.task.prompt,
            "commands": [c.to_dict() for c in self.commands],
            "command_index": current if current is not None else -1,
            "command": self.commands[current].text if current is not None else "",
            "attempts": self.attempts,
            "step": self.steps,
            "expert": expert,
            "expert_index": expert_index,
            "cost": float(cost),
            "verdict": self.verdict.to_dict(),
            "feedback": self.feedback(),
            "action_mask": action_mask,
            "not_understood": list(self.not_understood),
            "coverage": self.coverage,
        }
        info.update(extra)
        return info

    def summarise(
        self, evaluator: Any, complete: bool, expert_names: Sequence[str], with_budget: bool, with_drift: bool
    ) -> dict[str, Any]:
        """The end-of-episode summary (``info["episode_summary"]``; keys on the env card).

        The evaluator judges the canvas against the task's target (the ground truth), or, for a
        prompt-only task, a model evaluator (``judges_free_prompts``) judges it on the
        extractor's checks; ``critic_agreement`` compares the critic's answers with the
        evaluator's on the checks both answered."""
        judged_checks = self.task.checks
        if self.task.target is not None:
            metrics = evaluator.evaluate(self.canvas, self.task)
        elif evaluator.judges_free_prompts:
            judged_checks = self.checks
            metrics = evaluator.evaluate(self.canvas, self.task, checks=self.checks)
        else:
            metrics = {"judged": False, "reason": "the task has no target"}
        if metrics.get("judged"):
            pairs = [
                (a, p)
                for c, p in zip(judged_checks, metrics["passed"])
                if (a := critic_answer(self.verdict, c)) is not None
            ]
            metrics["critic_checks"] = len(pairs)
            if pairs:
                metrics["critic_agreement"] = sum(a == b for a, b in pairs) / len(pairs)
        return {
            "task_id": self.task.id,
            "category": self.task.task_category,
            "suite": self.task.suite,
            "evaluator": metrics,
            "critic_score": self.verdict.score,
            "not_understood": list(self.not_understood),
            "coverage": self.coverage,
            "commands_passed": len(self.accepted),
            "commands_failed": len(self.failed) + len(self.queue),
            "n_commands": len(self.commands),
            "cost": self.cost,
            "steps": self.steps,
            "complete": complete,
            "log": list(self.log),
            **({"budget_spent": self.budget_spent} if with_budget else {}),
            **({"degraded": [n for n, d in zip(expert_names, self.degraded) if d]} if with_drift else {}),
        }


def build_registry(experts: Any) -> ExpertRegistry:
    """A preset name or path, a list of expert names (a subset of the default registry), a list
    of registry specs, a registry, or a list of expert objects (``EnvConfig`` checked the type)."""
    if isinstance(experts, ExpertRegistry):
        return experts
    if isinstance(experts, (str, os.PathLike)):
        return ExpertRegistry.from_preset(experts if isinstance(experts, str) else Path(experts))
    experts = list(experts)
    if all(isinstance(e, str) for e in experts):
        return ExpertRegistry.from_names(experts)
    if all(isinstance(e, (Mapping, ComponentSpec)) for e in experts):
        return ExpertRegistry.from_specs(experts)
    return ExpertRegistry(experts)


def critic_answer(verdict: Verdict, check: Check, tolerance: float = SAME_POSITION_TOLERANCE) -> bool | None:
    """The critic's answer to a task check: the same check, or for a preserve check the one on
    the same object whose position (measured by the extractor on the source's pixels) lies
    within ``tolerance`` (:func:`~poser_env.world.checks.preserve_match`). None when the
    critic was not asked."""
    for r in verdict.results:
        if r.check == check:
            return r.passed
    if check.spec.get("kind") == "preserve":
        for r in verdict.results:
            if r.check.spec.get("kind") == "preserve" and preserve_match(check.spec, r.check.spec, tolerance):
                return r.passed
    return None


def _score_on(verdict: Verdict, checks: set[Check]) -> float:
    """``verdict.subset(checks).score`` without building the subset (and its reflection text)."""
    results = [r.passed for r in verdict.results if r.check in checks]
    return sum(results) / len(results) if results else 1.0


def unique_checks(checks: list[Check]) -> list[Check]:
    seen: set[Check] = set()
    out = []
    for c in checks:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def as_action(action: Any, n: int, names: list[str]) -> int:
    """Accept an int, a 0-d or 1-element array; reject anything else with a clear message."""
    try:
        arr = np.asarray(action)
        if arr.size != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError
        a = int(arr.reshape(()))
    except (TypeError, ValueError):
        raise ValueError(f"action must be an integer in [0, {n - 1}] ({', '.join(names)}), got {action!r}") from None
    if not 0 <= a < n:
        raise ValueError(f"action {a} is out of range: valid actions are 0..{n - 1} ({', '.join(names)})")
    return a


def as_seed(seed: Any) -> int | None:
    """``reset``'s seed: None or a non-negative integer (numpy's too); Gymnasium's own check raises
    its ``gymnasium.error.Error`` (not a ``ValueError``) and only for Python ints."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be None or a non-negative integer, got {seed!r:.80} ({type(seed).__name__})")
    return int(seed)


def source_canvas(source: Any, size: int) -> Canvas:
    """The canvas an episode starts from: blank (``None``), a rendered ``Scene``, or a given
    image (a ``size`` x ``size`` x 3 uint8 array or a PIL image; ``TypeError`` / ``ValueError``
    naming what is wrong otherwise)."""
    if source is None:
        return Canvas(image=render(Scene(), size), scene=Scene())
    if isinstance(source, Scene):
        return Canvas(image=render(source, size), scene=source)
    image = source
    if not (isinstance(image, np.ndarray) or (hasattr(image, "convert") and hasattr(image, "size"))):
        raise TypeError(
            f"options['source'] must be a Scene, a {size}x{size}x3 uint8 array or a PIL image of "
            f"{size}x{size} pixels, got {type(source).__name__} {source!r:.60}"
        )
    if hasattr(image, "convert") and hasattr(image, "size"):
        if image.size != (size, size):
            raise ValueError(
                f"source image is {image.size[0]}x{image.size[1]}; this env's canvas is {size}x{size} (resize it, or set canvas_size=)"
            )
        image = np.asarray(image.convert("RGB"))
    try:
        return validate_output(Canvas(image=np.asarray(image)), (size, size), "source image")
    except ExpertOutputError as e:
        raise ValueError(str(e).replace("expert 'source image' returned", "the source image is")) from None
