"""ImagePoserEnv: reflective orchestration of image experts as a Gymnasium environment."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from poser_env.config import NO_PROVIDERS, EnvConfig, split_sources
from poser_env.deprecation import ImagePoserDeprecationWarning
from poser_env.drift import ProviderDown, draw_degraded
from poser_env.drift import fails as drift_fails
from poser_env.episode import Episode, as_action, as_seed, build_registry, source_canvas, unique_checks
from poser_env.experts.base import call_expert, takes_reflection, validate_output
from poser_env.extractors.base import coverage, not_understood, require_prompt
from poser_env.memo import LRU, pixel_key
from poser_env.observation import ObservationEncoder
from poser_env.registry import ExpertRegistry, build, check_declared
from poser_env.text_precompute import TextPrecompute, precompute_split_texts, precompute_wanted, shared_text_encoder
from poser_env.types import Canvas, Check, Command, Task, Verdict

STOP = "STOP"
DEFER = "DEFER"


class ImagePoserEnv(gym.Env):
    """Orchestrate a pool of image experts to realise a long, compositional prompt.

    ## Description

    A command extractor splits the prompt into successive instructions. At each step the agent
    picks one expert; a T2I expert redraws from the cumulative description (the instructions
    accepted so far plus the current one), an I2I expert edits the canvas with the current
    instruction. A critic scores the result on every check of the prompt; the current
    instruction passes when its checks pass and no check of the instructions so far that held
    before now fails, and then the queue advances. Otherwise the better canvas is kept, the
    agent may retry (the next expert gets the critic's reflection), and after ``max_attempts``
    failures the instruction is dropped. This is Image-POSER's MDP (2025), with the critic kept apart
    from the evaluator.

    ## Action space

    ``Discrete(n_experts [+1 STOP] [+1 DEFER])``: action ``i < n_experts`` calls expert ``i``
    of the registry (``env.unwrapped.expert_names``). STOP ends the episode; DEFER moves the
    current command to the end of the queue, once per command. Both are off by default. An
    action out of range raises ``ValueError``. A masked action (DEFER used up) is a no-op that
    costs ``invalid_action_penalty + step_penalty`` and sets ``info["invalid_action"]``.

    ## Observation space

    A ``Dict`` of flat float32 ``Box`` es plus ``action_mask`` (see ``poser_env/observation.py``):
    the ``instruction``, ``remaining`` and ``prompt`` embeddings, ``image`` features, the last
    ``verdict`` per check category, the current ``command`` kind, ``progress``, the experts
    ``tried`` on this command, and ``action_mask``; with a ``cost_budget`` also ``budget``
    (the fraction left); with ``drift_visible`` also ``error`` (1 after a call that returned no
    image). With ``observe_step_count=False`` the step entry of ``progress`` reads 0.

    ## Rewards

    ``r_t = (Phi_t - Phi_{t-1}) - cost_weight * cost(expert) - step_penalty`` where ``Phi`` is
    the critic's score (fraction of checks passed) over all checks of the prompt on the kept
    canvas. Potential-based: the return is the alignment gained minus what was spent, so
    failing on purpose never pays. Defaults: ``cost_weight=0.01``, ``step_penalty=0.02``.

    ## Starting state

    A task drawn with ``self.np_random`` from the configured suite and split (or the task given
    by ``options``: ``prompt`` and optional ``source``, or ``task_id``); the canvas is blank
    (generation) or the source image (editing).

    ## Episode end

    Terminated when the queue is empty, on STOP, when the ``cost_budget`` is spent, or at the
    task's deadline (``step_slack``: its commands plus the slack, in steps); truncated after ``max_steps`` steps
    (default 16), or earlier at the limit of a ``TimeLimit`` wrapper that
    ``poser_env.wrappers.adopt_time_limit`` made the env adopt (the harness and the DQN do).
    The last ``info`` carries ``"episode_summary"``: the evaluator's metrics (ground truth in
    the synthetic world), commands passed and failed, cost, steps and ``complete``. (SB3's
    ``Monitor`` and Gymnasium's ``RecordEpisodeStatistics`` write ``info["episode"]``; this env
    never does.) An episode ended by any other wrapper is summarised by
    ``env.unwrapped.episode_summary()`` (``complete`` False).

    ## Info

    Keys of every info dict (reset and step): ``task_id``, ``prompt``, ``commands``, ``command_index``,
    ``command``, ``attempts``, ``step``, ``expert``, ``expert_index``, ``cost``, ``verdict``,
    ``feedback``, ``action_mask``, ``not_understood``, ``coverage``. After an expert call: ``acted_on``, ``acted_kind``,
    ``command_passed``; when the expert failed: ``error``. After a masked action:
    ``invalid_action``. On the step that ends the episode by the cost budget: ``budget_spent``; by
    the deadline: ``deadline_reached``. The episode's last: ``episode_summary``.

    ``not_understood`` lists the prompt's spans the extractor turned into no check and ``coverage``
    is the share of the prompt's content words outside them (the summary carries both): the
    critic's score speaks only for what was understood.

    ## Arguments

    Any field of :class:`~poser_env.config.EnvConfig` as a keyword, e.g.
    ``gym.make("ImagePoser-v0", split="val", text_encoder="minilm", max_steps=12)``.
    ``render_mode="rgb_array"`` returns the canvas. Three keywords are for code that builds the
    env (they take Python objects, so a registered id never carries them):

    * ``instrument(role, component) -> component``: called once per expert (role ``"expert"``)
      and for the ``"critic"``, ``"extractor"`` and ``"evaluator"`` when the env is built; the
      env uses what it returns. For timing or counting model calls (``poser bench env --preset``
      does) without reaching into a live env. What it returns must keep the component's contract.
    * ``before_first_reset(env)``: run at the first ``reset``, before anything of the episode is
      built; if it raises, the reset raises and it runs again at the next one (a real-model
      preset loads its extractor's, critic's and evaluator's models there). ``env.before_first_reset``
      holds it until it succeeds, then None.
    * ``preset``: the :class:`~poser_env.presets.RealPreset` the env was built from, kept as
      ``env.preset`` for inspection (None otherwise).

    ``env.unwrapped.expert_calls`` counts the expert actions executed since the env was built, in
    every episode, including the branches that a search explores between ``snapshot()`` and
    ``restore()`` (which do not rewind it): what a planner spent in images (GRPO's data counts the
    oracle's this way).

    ## Version history

    * v0: initial release. Renames within v0 (``canvas`` to ``canvas_size``, an expert's ``kind``
      to ``modality``, ``Task.category`` to ``task_category``, the real experts' diffusers names)
      left episodes unchanged; old names warn with ``ImagePoserDeprecationWarning``.
    * v1 (``ImagePoser-v1``, ``-Gen-v1``, ``-Edit-v1``): the task distribution changed, so the
      version was bumped (as Gymnasium does): v0's suites plus ``forms`` and ``forms_editing``,
      prompts in the forms of issue 12 (docs/suites.md). The v0 ids are unchanged.
    * Levels (issue 14): ``-Hard-v0``, ``-Drift-v0`` (kwargs changed before any result), then
      ``-Drift-v1`` (a new id, so Drift-v0's results stay comparable); the split ``gen_forms``
      added to suites ``hard`` and ``mixed``: docs/env.md, "Version history".
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        instrument: Callable[[str, Any], Any] | None = None,
        before_first_reset: Callable[[ImagePoserEnv], None] | None = None,
        preset: Any = None,
        **kwargs: Any,
    ):
        self.config = EnvConfig.from_kwargs(**kwargs)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unsupported render_mode {render_mode!r}; allowed: rgb_array or None")
        self.render_mode = render_mode
        cfg = self.config
        self.registry = build_registry(cfg.experts)
        self.critic = check_declared(build(cfg.critic), "critic", ("scores_commands",), "poser_env.critics.base.Critic")
        self.extractor = build(cfg.extractor)
        self.evaluator = check_declared(
            build(cfg.evaluator), "evaluator", ("judges_free_prompts",), "poser_env.evaluators.base.Evaluator"
        )
        if instrument is not None:
            self.registry = ExpertRegistry([instrument("expert", e) for e in self.registry], self.registry.providers)
            self.critic, self.extractor, self.evaluator = (
                instrument(role, c)
                for role, c in (("critic", self.critic), ("extractor", self.extractor), ("evaluator", self.evaluator))
            )
        # Whether each expert takes the reflection as its own argument (else, deprecated: in its instruction).
        self._reflects = [takes_reflection(e) for e in self.registry]
        self._modalities = self.registry.modalities
        self.providers = self.registry.providers  # each expert's provider (None: none declared)
        self._provider_names = sorted({p for p in self.providers if p is not None})
        if cfg.drift_unit == "provider" and not self._provider_names:
            raise ValueError(NO_PROVIDERS)
        if not all(self._reflects):
            old = [e.name for e, r in zip(self.registry, self._reflects) if not r]
            warnings.warn(
                f"expert(s) {old} take no `reflection` argument: on a retry they get the critic's reflection appended "
                "to the instruction (poser_env.experts.base.FEEDBACK_MARKER), which is deprecated; add a parameter "
                '`reflection: str = ""` to their __call__',
                ImagePoserDeprecationWarning,
                stacklevel=2,
            )
        self.expert_names = self.registry.names
        self.action_names = (
            list(self.expert_names) + ([STOP] if cfg.enable_stop else []) + ([DEFER] if cfg.enable_defer else [])
        )
        self.action_space = gym.spaces.Discrete(len(self.action_names))
        self.encoder = ObservationEncoder(shared_text_encoder(cfg.text_encoder), len(self.action_names))
        self.observation_space = self.encoder.space
        # Only a level with a budget (visible drift) gets the key, so ImagePoser-v0's space is unchanged.
        extra_keys = [k for k, on in (("budget", cfg.cost_budget is not None), ("error", cfg.drift_visible)) if on]
        if extra_keys:
            extra = {k: gym.spaces.Box(0.0, 1.0, (1,), np.float32) for k in extra_keys}
            self.observation_space = gym.spaces.Dict({**self.observation_space.spaces, **extra})
        self._tasks: list[Task] | None = None
        self._ep: Episode | None = None
        # A wrapper's step limit (TimeLimit, gym.make(..., max_episode_steps=n)) adopted by
        # poser_env.wrappers.adopt_time_limit, so the env truncates and summarises at that step.
        self.wrapper_step_limit: int | None = None
        self._extracted: LRU[tuple[Command, ...]] = LRU(8192)
        # EnvConfig.precompute_text: at the first reset drawing from the split; what it did and cost.
        self._precompute = precompute_wanted(cfg.precompute_text, cfg.text_encoder)
        self.text_precompute: TextPrecompute | None = None
        # Run at the first reset until it succeeds (a real-model preset loads its models there).
        self.before_first_reset = before_first_reset
        self.preset = preset
        self.expert_calls = 0  # expert actions executed, every episode and search branch included

    # ------------------------------------------------------------------------------------
    # Tasks

    @property
    def tasks(self) -> list[Task]:
        """The tasks of the configured suite mix and split, loaded once."""
        if self._tasks is None:
            from poser_env.world.suites import load_suite

            pairs = split_sources(self.config.suite, self.config.split)
            self._tasks = [t for s, sp in pairs for t in load_suite(s, sp)]
        return self._tasks

    def _task_from_options(self, options: Mapping[str, Any]) -> Task:
        if not isinstance(options, Mapping):
            raise TypeError(
                f"reset(options=...) takes a dict such as {{'prompt': 'two red circles'}}, {{'task_id': ...}} or "
                f"{{'task': Task}}, got {type(options).__name__} {options!r:.80}"
            )
        unknown = set(options) - {"prompt", "source", "task_id", "task"}
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {sorted(unknown, key=str)}; allowed: prompt, source, task_id, task"
            )
        if "task" in options:
            if not isinstance(options["task"], Task):
                raise TypeError("options['task'] must be a poser_env.types.Task")
            return options["task"]
        if "task_id" in options:
            for t in self.tasks:
                if t.id == options["task_id"]:
                    return t
            raise ValueError(
                f"no task {options['task_id']!r} in suite {self.config.suite!r}, split {self.config.split!r}"
            )
        prompt = options.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("options['prompt'] must be a non-empty string describing the image to make")
        return Task(id="custom", prompt=require_prompt(prompt), source=options.get("source"))

    def _source_canvas(self, source: Any) -> Canvas:
        return source_canvas(source, self.config.canvas_size)

    # ------------------------------------------------------------------------------------
    # Gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._ep = None  # a reset that fails leaves no episode behind, never the previous one
        seed = as_seed(seed)
        if self.before_first_reset is not None:
            self.before_first_reset(self)  # raises on failure, and then runs again at the next reset
            self.before_first_reset = None
        super().reset(seed=seed)
        if options is not None and not (isinstance(options, Mapping) and not options):
            task = self._task_from_options(options)
        else:
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        if self._precompute and self.text_precompute is None and (not options or "task_id" in options):
            self.text_precompute = self._precompute_texts()  # draws nothing from np_random
        canvas = self._source_canvas(task.source)
        require_prompt(task.prompt)  # the length limit holds for every task, whoever made it
        commands = self._extract(task.prompt, canvas)
        if not commands:
            raise RuntimeError(f"the extractor returned no command for prompt {task.prompt!r}")
        checks = unique_checks([c for cmd in commands for c in cmd.checks])
        verdict = self._critique(canvas, checks, commands)
        unread = not_understood(commands)
        # Drift: hidden per-expert degradation for this episode (no draw at all when off).
        degraded = draw_degraded(self.config, self.np_random, self.providers, self._provider_names, self._modalities)
        self._ep = Episode(
            task=task,
            commands=commands,
            checks=checks,
            queue=list(range(len(commands))),
            canvas=canvas,
            verdict=verdict,
            potential=verdict.score,
            not_understood=unread,
            coverage=coverage(task.prompt, unread),
            degraded=degraded,
        )
        return self._observation(), self._info(expert="", cost=0.0)

    def step(self, action: Any):
        ep = self._ep
        if ep is None:
            raise RuntimeError("call reset() before step()")
        if not ep.queue or ep.steps >= self.step_limit or ep.budget_spent or ep.deadline_reached:
            raise RuntimeError("the episode is over: call reset()")
        a = as_action(action, self.action_space.n, self.action_names)
        mask = self.action_mask()
        ep.steps += 1
        cfg = self.config
        if not mask[a]:
            reward = -cfg.invalid_action_penalty - cfg.step_penalty
            return self._finish_step(reward, terminated=False, expert=None, cost=0.0, extra={"invalid_action": True})
        name = self.action_names[a]
        if name == STOP:
            return self._finish_step(-cfg.step_penalty, terminated=True, expert=STOP, cost=0.0, extra={})
        if name == DEFER:
            current = ep.queue.pop(0)
            ep.queue.append(current)
            ep.deferred.add(current)
            ep.attempts, ep.tried = 0, set()
            return self._finish_step(-cfg.step_penalty, terminated=False, expert=DEFER, cost=0.0, extra={})

        expert = self.registry[a]
        self.expert_calls += 1
        current = ep.queue[0]
        extra: dict[str, Any] = {"acted_on": ep.commands[current].text, "acted_kind": ep.commands[current].kind}
        instruction = ep.instruction(self._modalities[a], current)
        reflection = ep.feedback() if ep.attempts > 0 else ""  # the critic's reflection on a retry
        try:
            if drift_fails(cfg, self.np_random, ep.degraded, a):
                if cfg.drift_visible:
                    raise ProviderDown(f"{self.providers[a] or expert.name} is down (Drift): no image came back")
                out = Canvas(image=ep.canvas.image.copy(), scene=ep.canvas.scene)  # a silent failure: nothing changes
            else:
                out = call_expert(expert, instruction, ep.canvas, self.np_random, reflection, self._reflects[a])
            new_canvas = validate_output(out, (cfg.canvas_size, cfg.canvas_size), expert.name)
            new_verdict = self._critique(new_canvas, ep.checks, ep.commands)
        except Exception as e:  # an expert must never kill a training loop
            extra["error"] = f"{type(e).__name__}: {e}"
            new_canvas, new_verdict = None, None
        ep.cost += expert.cost
        ep.tried.add(a)
        passed = ep.judge_attempt(current, new_canvas, new_verdict, cfg.keep_best, cfg.max_attempts)
        extra["command_passed"] = passed
        potential = ep.verdict.score
        reward = (potential - ep.potential) - cfg.cost_weight * expert.cost - cfg.step_penalty
        ep.potential = potential
        if cfg.cost_budget is not None and ep.queue and ep.cost >= cfg.cost_budget:
            ep.budget_spent = True  # the commands left are recorded as failed in the summary
            extra["budget_spent"] = True
        return self._finish_step(
            reward, terminated=not ep.queue or ep.budget_spent, expert=expert.name, cost=expert.cost, extra=extra
        )

    def render_canvas(self) -> np.ndarray:
        """The current canvas, whatever the render mode (a copy)."""
        if self._ep is None:
            raise RuntimeError("call reset() first")
        return self._ep.canvas.image.copy()

    def render(self):
        if self.render_mode == "rgb_array" and self._ep is not None:
            return self._ep.canvas.image.copy()
        return None

    # ------------------------------------------------------------------------------------

    def action_mask(self) -> np.ndarray:
        """1 for each allowed action (also ``action_masks()`` for sb3-contrib's MaskablePPO)."""
        mask = np.ones(self.action_space.n, dtype=np.int8)
        ep = self._ep
        if self.config.enable_defer:
            i = self.action_names.index(DEFER)
            mask[i] = int(ep is not None and bool(ep.queue) and ep.queue[0] not in ep.deferred and len(ep.queue) > 1)
        return mask

    def _precompute_texts(self) -> TextPrecompute:
        """The split's texts embedded once per process (``poser_env/text_precompute.py``)."""

        def commands(task: Task) -> list[str]:
            return [c.text for c in self._extract(task.prompt, self._source_canvas(task.source))]

        pure = getattr(self.extractor, "pure", False)  # a non-pure extractor is never called ahead
        return precompute_split_texts(self.encoder.text, self.config, self.tasks, commands if pure else None)

    def _extract(self, prompt: str, canvas: Canvas) -> list[Command]:
        """The extractor's commands. A ``pure`` extractor's (a function of the prompt and the
        source's pixels, like the grammar's) are cached per env: suite tasks recur in training."""
        if not getattr(self.extractor, "pure", False):
            return list(self.extractor.extract(prompt, source=canvas))
        key = (prompt, pixel_key(np.asarray(canvas.image)))
        hit = self._extracted.get(key)
        if hit is None:
            hit = self._extracted.put(key, tuple(self.extractor.extract(prompt, source=canvas)))
        return list(hit)

    def _critique(self, canvas: Canvas, checks: Sequence[Check], commands: Sequence[Command]) -> Verdict:
        """The verdict; a critic with ``scores_commands`` (CLIP ``mode = "command"``) also gets the commands."""
        if self.critic.scores_commands:
            return self.critic.critique(canvas, checks, commands=commands)
        return self.critic.critique(canvas, checks)

    def snapshot(self) -> tuple[Any, dict[str, Any]]:
        """The episode's state and the generator's state, for search (see ``restore``)."""
        return copy.deepcopy(self._ep), copy.deepcopy(self.np_random.bit_generator.state)

    def restore(self, snap: tuple[Any, dict[str, Any]]) -> None:
        """Go back to a ``snapshot()``: the same actions then give the same outcomes."""
        ep, rng_state = snap
        self._ep = copy.deepcopy(ep)
        self.np_random.bit_generator.state = copy.deepcopy(rng_state)

    def action_masks(self) -> np.ndarray:
        return self.action_mask().astype(bool)

    def episode_context(self) -> dict[str, Any]:
        """The episode and the current decision in plain data and words.

        For agents that read text or plan a whole workflow (the LLM planner, GRPO) and act
        through ``predict(obs)``, which sees no ``info``: the task id and prompt, the extracted
        commands and the current one (index, text, kind), the critic's last feedback on it,
        attempts and experts tried on it, the step, and each action's name, modality (also under
        ``kind``, its deprecated name) and description.
        """
        ep = self._ep
        if ep is None:
            raise RuntimeError("call reset() first")
        current = ep.queue[0] if ep.queue else None
        return {
            "task_id": ep.task.id,
            "prompt": ep.task.prompt,
            "commands": [c.to_dict() for c in ep.commands],
            "command_index": current if current is not None else -1,
            "command": ep.commands[current].text if current is not None else "",
            "kind": ep.commands[current].kind if current is not None else "",
            "feedback": ep.feedback() if current is not None else "",
            "attempts": ep.attempts,
            "tried": [self.action_names[i] for i in sorted(ep.tried)],
            "step": ep.steps,
            "actions": [
                {
                    "name": n,
                    "modality": self._modalities[i] if i < len(self.registry) else "control",
                    "kind": self._modalities[i] if i < len(self.registry) else "control",  # modality's deprecated name
                    "description": getattr(self.registry[i], "description", "") if i < len(self.registry) else "",
                }
                for i, n in enumerate(self.action_names)
            ],
        }

    def _finish_step(self, reward: float, terminated: bool, expert: str | None, cost: float, extra: dict[str, Any]):
        ep = self._ep
        ep.last_error = "error" in extra  # the ``error`` key: this step's call returned no image
        slack = self.config.step_slack
        if not terminated and slack is not None and ep.steps >= len(ep.commands) + slack:
            # The task's own deadline (part of the MDP, like the cost budget): terminated, not
            # truncated, so that a learner sees what running out of steps costs.
            ep.deadline_reached = terminated = True
            extra = {**extra, "deadline_reached": True}
        truncated = not terminated and ep.steps >= self.step_limit
        info = self._info(expert=expert, cost=cost, **extra)
        ep.log_step(info, reward, extra)
        if terminated or truncated:
            if terminated and ep.queue and expert == STOP:
                ep.failed.extend(ep.queue)
                ep.queue = []
            info["episode_summary"] = ep.summary = self._summary(complete=True)
        return self._observation(), float(reward), bool(terminated), bool(truncated), info

    @property
    def step_limit(self) -> int:
        """Steps after which the episode is truncated: ``max_steps``, or a smaller limit of a
        wrapper (``wrapper_step_limit``) or of ``self.spec.max_episode_steps``."""
        limits = [self.config.max_steps, self.wrapper_step_limit, getattr(self.spec, "max_episode_steps", None)]
        return min(int(n) for n in limits if n)

    def episode_summary(self) -> dict[str, Any]:
        """The current episode's summary, for code that ends episodes itself (any wrapper).

        After the env ended the episode: the summary its last ``info`` carried. Before: the
        summary now, with ``"complete": False`` (the queue's commands count as failed and the
        evaluator judges the canvas as it stands)."""
        ep = self._ep
        if ep is None:
            raise RuntimeError("call reset() first: there is no episode to summarise")
        return dict(ep.summary) if ep.summary is not None else self._summary(complete=False)

    def _summary(self, complete: bool) -> dict[str, Any]:
        return self._ep.summarise(
            self.evaluator,
            complete,
            self.expert_names,
            with_budget=self.config.cost_budget is not None,
            with_drift=self.config.drift_p > 0,
        )

    def _observation(self) -> dict[str, np.ndarray]:
        ep = self._ep
        obs = self.encoder.encode(
            ep.observation_input(
                self.config.max_steps, self.config.max_attempts, self.action_space.n, self.action_mask()
            )
        )
        if not self.config.observe_step_count:
            obs["progress"][0] = 0.0
        if self.config.cost_budget is not None:
            left = max(0.0, 1.0 - ep.cost / self.config.cost_budget)
            obs["budget"] = np.array([left], np.float32)
        if self.config.drift_visible:
            obs["error"] = np.array([float(ep.last_error)], np.float32)
        return obs

    def _info(self, expert: str | None, cost: float, **extra: Any) -> dict[str, Any]:
        expert_index = self.action_names.index(expert) if expert else -1
        return self._ep.info(expert or "", expert_index, cost, self.action_mask(), extra)
