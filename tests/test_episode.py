"""The episode state's feedback: one builder for info, episode_context and a retry, kept true
to the state it was built for (a new verdict, command or acceptance rebuilds it)."""

import gymnasium as gym
import numpy as np

import poser_env  # noqa: F401


def _fresh(ep) -> str:
    """The rule, computed without the memo."""
    if not ep.queue:
        return ep.verdict.feedback
    return ep.verdict.subset(ep.checks_so_far(ep.queue[0])).feedback


def test_info_and_context_share_the_feedback_of_the_current_state():
    env = gym.make("ImagePoser-Edit-v0", split="val", enable_defer=True)
    base = env.unwrapped
    defer = base.action_names.index("DEFER")
    rng = np.random.default_rng(0)
    seen_texts = set()
    for seed in range(4):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            ep = base._ep
            assert info["feedback"] == _fresh(ep)
            if ep.queue:
                assert base.episode_context()["feedback"] == info["feedback"]
            seen_texts.add(info["feedback"])
            snap = base.snapshot()
            base.restore(snap)
            assert base._ep.feedback() == _fresh(base._ep)
            action = (
                defer
                if rng.random() < 0.2 and info["action_mask"][defer]
                else int(rng.integers(len(base.expert_names)))
            )
            _, _, term, trunc, info = env.step(action)
            done = term or trunc
        assert info["feedback"] == _fresh(base._ep)
    assert len(seen_texts) > 3  # the feedback did change along the way
