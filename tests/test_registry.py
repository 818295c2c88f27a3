"""Components are built from plain data; errors name what is wrong."""

import pytest

from poser_env.registry import ComponentSpec, ExpertRegistry, RegistryError, build, load_entry_point


def test_synthetic_preset_has_twelve_experts_five_t2i():
    reg = ExpertRegistry.from_preset("synthetic")
    assert len(reg) == 12
    assert sum(e.modality == "t2i" for e in reg) == 5
    assert reg.index(reg.names[3]) == 3
    assert reg["frontier-t2i"].cost == max(reg.costs)


@pytest.mark.parametrize(
    "entry, match",
    [
        ("nocolon", "must look like"),
        ("no_such_module_xyz:Thing", "cannot import module"),
        ("poser_env.registry:Nope", "has no attribute 'Nope'"),
    ],
)
def test_bad_entry_points(entry, match):
    with pytest.raises(RegistryError, match=match):
        load_entry_point(entry)


def test_bad_specs_and_duplicates():
    with pytest.raises(RegistryError, match="no 'entry_point'"):
        ComponentSpec.coerce({"name": "x"})
    with pytest.raises(RegistryError, match="unknown component spec field"):
        ComponentSpec.coerce({"name": "x", "entry_point": "a:b", "kwarg": {}})
    spec = {
        "name": "a",
        "entry_point": "poser_env.experts.synthetic:ShapeWorldExpert",
        "kwargs": {"kind": "t2i", "cost": 1},
    }
    with pytest.raises(RegistryError, match="duplicate expert name"):
        ExpertRegistry.from_specs([spec, spec])
    with pytest.raises(ValueError, match="unknown profile field"):
        build({**spec, "kwargs": {"kind": "t2i", "cost": 1, "speed": 3}}, name="a")
    with pytest.raises(RegistryError, match="at least one expert"):
        ExpertRegistry([])


def test_experts_may_name_a_provider_which_is_validated_and_exposed():
    registry = ExpertRegistry.from_preset("synthetic_providers")
    assert len(registry) == 24 and set(registry.providers) == {"north", "south"}
    assert registry.providers[registry.index("south-layout-t2i")] == "south"
    assert ExpertRegistry.from_preset("synthetic").providers == [None] * 12
    spec = {"name": "a", "entry_point": "poser_env.experts.synthetic:ShapeWorldExpert", "provider": "north"}
    assert ComponentSpec.coerce(spec).to_dict()["provider"] == "north"
    assert "provider" not in ComponentSpec.coerce({**spec, "provider": None}).to_dict()
    for bad in ("", "a b", 3, "../x"):
        with pytest.raises(RegistryError, match="provider of expert 'a' must be a name"):
            ComponentSpec.coerce({**spec, "provider": bad})
