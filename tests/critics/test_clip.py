"""The CLIP critic on a tiny CLIP model: normalised scores, per-check and per-command modes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="the real backends need the 'real' extra: pip install -e .[real]")

from poser_env.presets import make_env  # noqa: E402
from tests.backends.fixtures import run_frames  # noqa: E402


def test_clip_critic_drives_an_episode_and_normalises_scores(tmp_path, tiny):
    from poser_env.critics.clip import CLIPCritic, statement
    from tests.backends.fixtures import write_preset

    assert statement("Are there exactly two blue squares?") == "exactly two blue squares"
    assert statement("Is there a red circle?") == "a red circle"
    preset = write_preset(
        tmp_path,
        tiny,
        critic=f'type = "clip"\nmodel = "{tiny["clip"]}"\nlow = -1.0\nhigh = 1.0',
        evaluator=f'type = "vlm"\nmodel = "{tiny["vlm"]}"',
        extractor='type = "grammar"',
    )
    env = make_env(preset, max_steps=2)
    assert isinstance(env.critic, CLIPCritic)
    _, infos = run_frames(env, [0, 1], options={"prompt": "Draw a red circle. Add a blue star."})
    assert "episode_summary" in infos[-1] and all("error" not in i for i in infos)
    scores = env.critic.scores(env.render_canvas(), ["Is there a red circle?", "Is there a blue star?"])
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    with pytest.raises(ValueError, match="low < high"):
        CLIPCritic(str(tiny["clip"]), low=0.3, high=0.2)


def test_clip_critic_per_command_mode_scores_each_command_once(tmp_path, tiny):
    from poser_env.critics.clip import CLIPCritic, command_statement
    from poser_env.types import Canvas, Check, Command
    from tests.backends.fixtures import write_preset

    assert command_statement("Draw two blue squares on the left.") == "two blue squares on the left"
    assert command_statement("Add a red circle!") == "a red circle"
    red, round_, star, quality = (
        Check(q, cat, {"q": q})
        for q, cat in [
            ("Is there a red circle?", "object"),
            ("Is the circle round?", "attribute"),
            ("Is there no blue star?", "object"),
            ("Is the image clean?", "quality"),
        ]
    )
    commands = [
        Command("Draw a red circle.", "generate", (red, round_)),
        Command("Remove the blue star.", "remove", (star,)),
    ]
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    critic = CLIPCritic(str(tiny["clip"]), mode="command", low=-1.0, high=1.0)
    seen = []
    cosine = critic.scorer.cosine
    critic.scorer.cosine = lambda img, texts: seen.append(list(texts)) or cosine(img, texts)
    assert critic.scores_commands
    v = critic.critique(Canvas(image), [red, round_, star, quality], commands=commands)
    # One text for the generate command (inherited by both its checks); the remove command's
    # check and the check of no command are scored alone.
    assert seen[-1] == ["a red circle", "no blue star", "the image clean"]
    assert v.results[0].confidence == v.results[1].confidence and v.results[0].passed == v.results[1].passed
    per_check = CLIPCritic(str(tiny["clip"]), low=-1.0, high=1.0)
    assert not per_check.scores_commands
    per_check.scorer.cosine = critic.scorer.cosine
    per_check.critique(Canvas(image), [red, round_, star, quality], commands=commands)
    assert len(seen[-1]) == 4  # check mode: one text per check, commands ignored
    with pytest.raises(ValueError, match="mode must be one of check, command"):
        CLIPCritic(str(tiny["clip"]), mode="caption")

    preset = write_preset(
        tmp_path,
        tiny,
        critic=f'type = "clip"\nmodel = "{tiny["clip"]}"\nmode = "command"\nlow = -1.0\nhigh = 1.0',
        extractor='type = "grammar"',
    )
    env = make_env(preset, max_steps=2)
    got = []
    critique = env.critic.critique
    env.critic.critique = lambda canvas, checks, commands=None: (
        got.append(commands) or critique(canvas, checks, commands)
    )
    _, infos = run_frames(env, [0, 1], options={"prompt": "Draw a red circle. Add a blue star."})
    assert (
        all("error" not in i for i in infos) and got and all(c and c[0].text for c in got)
    )  # the env passes the commands
    bad = write_preset(
        tmp_path,
        tiny,
        name="bad.toml",
        extractor='type = "grammar"',
        evaluator=f'type = "clip"\nmodel = "{tiny["clip"]}"\nmode = "command"',
    )
    with pytest.raises(ValueError, match="is a \\[critic\\] setting"):
        make_env(bad)
