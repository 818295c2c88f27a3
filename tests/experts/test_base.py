"""The expert contract as the env applies it: the critic's reflection travels as its own argument;
an expert written before that argument existed still works (deprecated), with a warning."""

from __future__ import annotations

import warnings

import pytest

from poser_env.env import ImagePoserEnv
from poser_env.experts.base import FEEDBACK_MARKER, call_expert, takes_reflection
from poser_env.types import Canvas


class Recorder:
    """Changes nothing (so every attempt fails) and records what it was given."""

    name, modality, cost = "recorder", "i2i", 1.0

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, instruction: str, canvas: Canvas | None, rng, reflection: str = "") -> Canvas:
        self.calls.append((instruction, reflection))
        return Canvas(image=canvas.image.copy(), scene=canvas.scene)


class OldRecorder(Recorder):
    """The same, written before ``reflection`` existed."""

    def __call__(self, instruction, canvas, rng):  # type: ignore[override]
        return super().__call__(instruction, canvas, rng)


def _two_attempts(expert: Recorder) -> list[tuple[str, str]]:
    env = ImagePoserEnv(experts=[expert])
    env.reset(seed=0, options={"prompt": "A red circle."})
    for _ in range(2):
        *_, info = env.step(0)
        assert info["command_passed"] is False
    return expert.calls


def test_the_reflection_is_its_own_argument_on_a_retry() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # a current expert draws no warning
        (first, first_reflection), (second, second_reflection) = _two_attempts(Recorder())
    assert first_reflection == "" and second_reflection.startswith("Not yet right.")
    assert first == second and FEEDBACK_MARKER not in second  # the instruction stays the instruction


def test_an_expert_without_the_argument_gets_the_old_form_and_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"\['recorder'\] take no `reflection` argument"):
        (first, _), (second, _) = _two_attempts(OldRecorder())
    head, _, tail = second.partition(FEEDBACK_MARKER)
    assert FEEDBACK_MARKER not in first and head == first and tail.startswith("Not yet right.")


def test_takes_reflection_reads_the_signature() -> None:
    assert takes_reflection(Recorder()) and not takes_reflection(OldRecorder())
    assert takes_reflection(lambda instruction, canvas, rng, **kw: None)
    assert takes_reflection(lambda instruction, canvas, rng, *, reflection: None)
    assert not takes_reflection(lambda instruction, canvas, rng, reflections="": None)
    got = []
    call_expert(lambda i, c, r: got.append(i), "Draw.", None, None, "Not yet right.")
    assert got == [f"Draw.{FEEDBACK_MARKER}Not yet right."]


def test_modality_is_the_experts_name_for_t2i_and_i2i_and_kind_a_deprecated_alias() -> None:
    from poser_env.experts.synthetic import ShapeWorldExpert
    from poser_env.registry import ExpertRegistry

    reg = ExpertRegistry.from_preset("synthetic")
    assert reg.modalities == [e.modality for e in reg] and set(reg.modalities) == {"t2i", "i2i"}
    with pytest.warns(DeprecationWarning, match="`kind` is deprecated"):
        assert reg[0].kind == reg[0].modality
    # The spec key `kind` is still accepted; given with a different `modality` it is refused.
    with pytest.warns(DeprecationWarning, match="give `modality`"):
        assert ShapeWorldExpert("old-spec", kind="i2i", cost=1.0).modality == "i2i"
    with pytest.raises(ValueError, match="kind='t2i' and modality='i2i' disagree"):
        ShapeWorldExpert("both", kind="t2i", modality="i2i", cost=1.0)


def test_an_expert_declaring_only_kind_still_registers_with_a_warning() -> None:
    from poser_env.registry import ExpertRegistry, RegistryError

    class KindOnly:  # written before the rename
        name, kind, cost = "kind-only", "i2i", 1.0

        def __call__(self, instruction, canvas, rng, reflection=""):
            return canvas

    class Neither:
        name, cost = "neither", 1.0

        def __call__(self, instruction, canvas, rng, reflection=""):
            return canvas

    with pytest.warns(DeprecationWarning, match="declares `kind`, the deprecated name of `modality`"):
        assert ExpertRegistry([KindOnly()]).modalities == ["i2i"]
    with pytest.raises(RegistryError, match="has modality None; allowed: t2i, i2i"):
        ExpertRegistry([Neither()])
