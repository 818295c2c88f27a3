"""LLM planner baseline: a chat model chooses the expert for each step.

The comparison the Image-POSER reviewers asked for: does a learnt policy beat simply asking
an LLM? At each step the model gets the prompt, the current command, the critic's last
feedback, the experts already tried on this command, and the list of experts with their
descriptions; it answers with an expert's name.

Constrained to valid experts: instead of parsing free text, every allowed action's name is
scored as the answer (mean token log-likelihood after the prompt, one batched forward pass),
and the best one is taken. So the planner can never pick an unknown or masked expert, and a
model that would ramble still yields a decision. Like the oracle it reads the live env
(``env.unwrapped.episode_context()``), so it acts in one unvectorised env.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from poser_agents.base import BaselineAgent, batch_mask


@dataclass
class LLMPlannerConfig:
    """Settings of :class:`LLMPlannerAgent`."""

    model: str = "Qwen/Qwen2.5-1.5B-Instruct"
    """Chat model: hub id or local folder (loaded with trust_remote_code off)."""
    descriptions: bool = True
    """Show each expert's description (what it is good at), not only its name."""
    avoid_tried: bool = True
    """On a retry, choose among experts not yet tried on this command when any is allowed."""
    pool: dict | None = None
    """Model pool settings (``{"device": "auto", "max_on_device": 2}``); None (the default) uses
    the env's own pool (the one its real components load into), so the planner's model joins
    the same accelerator LRU, and when it is the extractor's model it is that very copy."""


class LLMPlannerAgent(BaselineAgent):
    """Asks a chat model which expert to call (see the module docstring)."""

    name = "llm-planner"

    def __init__(self, env: gym.Env, config: LLMPlannerConfig | None = None, **kwargs: Any):
        from poser_env.backends.chat import ChatModel
        from poser_env.backends.pool import env_chat_model, env_pool

        self.env = env
        self.cfg = config or LLMPlannerConfig(**kwargs)
        shared = env_chat_model(env, self.cfg.model) if self.cfg.pool is None else None
        self.chat = shared or ChatModel(
            self.cfg.model, pool=self.cfg.pool if self.cfg.pool is not None else env_pool(env)
        )
        self.last_scores: dict[str, float] = {}

    def config(self) -> dict[str, Any]:
        return asdict(self.cfg)

    def messages(self, ctx: dict[str, Any], options: list[str]) -> list[dict[str, str]]:
        lines = []
        for a in ctx["actions"]:
            if a["name"] in options:
                desc = (
                    f" ({a['kind']}) {a['description']}"
                    if self.cfg.descriptions and a["description"]
                    else f" ({a['kind']})"
                )
                lines.append(f"- {a['name']}:{desc}")
        system = (
            "You orchestrate image models. t2i experts redraw the whole image from the description so far; "
            "i2i experts edit the current image with one instruction. Choose the single best expert for the "
            "current instruction. Answer with the expert's name only."
        )
        user = [f"Overall request: {ctx['prompt']}", f"Current instruction ({ctx['kind']}): {ctx['command']}"]
        if ctx["feedback"]:
            user.append(f"Critic's feedback on the last attempt: {ctx['feedback']}")
        if ctx["tried"]:
            user.append(f"Already tried on this instruction: {', '.join(ctx['tried'])}")
        user.append("Experts:\n" + "\n".join(lines))
        return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(user)}]

    def choose(self, mask: np.ndarray) -> int:
        base = self.env.unwrapped
        ctx = base.episode_context()
        allowed = [int(a) for a in np.flatnonzero(mask)]
        if self.cfg.avoid_tried:
            untried = [a for a in allowed if base.action_names[a] not in ctx["tried"]]
            allowed = untried or allowed
        if len(allowed) == 1:
            return allowed[0]
        names = [base.action_names[a] for a in allowed]
        scores = self.chat.option_logprobs(self.messages(ctx, names), names)
        self.last_scores = dict(zip(names, scores.tolist()))
        return allowed[int(np.argmax(scores))]

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        mask, batched = batch_mask(observation)
        if len(mask) != 1:
            raise ValueError("the LLM planner reads the live env: use it with one unvectorised env")
        action = np.array([self.choose(mask[0])])
        return (action if batched else action[0]), state
