"""The critic contract: ``scores_commands`` is declared (a default on :class:`Critic`), and a
critic or evaluator that does not declare its capability is refused when the env is built."""

from __future__ import annotations

import pytest

from poser_env.critics.base import Critic
from poser_env.critics.synthetic import PixelCritic
from poser_env.env import ImagePoserEnv
from poser_env.registry import RegistryError
from poser_env.types import Verdict


class Undeclared:
    """A critic written without subclassing :class:`Critic` and without ``scores_commands``."""

    name = "undeclared"

    def critique(self, canvas, checks):
        return Verdict(())


class Subclassed(Critic):
    name = "subclassed"

    def critique(self, canvas, checks):
        return Verdict(())


class NoJudge:
    name = "no-judge"

    def evaluate(self, canvas, task, checks=None):
        return {"judged": False, "reason": "test"}


def test_the_pixel_critic_declares_it_and_a_subclass_inherits_the_default() -> None:
    assert isinstance(PixelCritic(), Critic) and PixelCritic().scores_commands is False
    assert Subclassed().scores_commands is False
    env = ImagePoserEnv(critic={"name": "s", "entry_point": f"{__name__}:Subclassed"})
    env.reset(seed=0, options={"prompt": "A red circle."})
    assert env.step(0)[-1]["verdict"] is not None


@pytest.mark.parametrize(
    ("role", "cls", "member", "base"),
    [
        ("critic", "Undeclared", "scores_commands", "poser_env.critics.base.Critic"),
        ("evaluator", "NoJudge", "judges_free_prompts", "poser_env.evaluators.base.Evaluator"),
    ],
)
def test_an_undeclared_capability_is_refused_by_name(role: str, cls: str, member: str, base: str) -> None:
    with pytest.raises(RegistryError, match=f"{role} .* does not declare {member}: subclass {base}"):
        ImagePoserEnv(**{role: {"name": "x", "entry_point": f"{__name__}:{cls}"}})
