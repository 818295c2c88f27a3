"""poser_env.trust: the one rule for env settings read from a file (checkpoints and presets)."""

import pytest

from poser_env.config import DEFAULT_CRITIC
from poser_env.trust import (
    UntrustedFileError,
    check_env_entry_point,
    check_env_id,
    check_plain_env_kwargs,
    is_code_reference,
)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"suite": "mixed", "split": "val", "max_steps": 8, "text_encoder": "hash"},
        {"critic": dict(DEFAULT_CRITIC), "experts": "synthetic"},
        {"experts": ["sketchy-t2i", "layout-t2i"], "text_encoder": "/models/minilm"},
        {"preset": "real12", "canvas_size": 64},
    ],
)
def test_plain_settings_pass_without_the_flag(kwargs):
    assert check_plain_env_kwargs(kwargs) == kwargs


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"critic": {"name": "c", "entry_point": "os:makedirs"}}, "'critic' is a component spec"),
        ({"extractor": {"name": "grammar"}}, "'extractor' is a component spec"),
        ({"experts": "../my-experts.json"}, "not an expert preset shipped with poser_env"),
        ({"experts": [{"name": "x", "entry_point": "os:getcwd"}]}, "list of expert specs"),
        ({"text_encoder": "os:abort"}, "Python callable 'os:abort'"),
        ({"anything": {"deep": ["os.path:join"]}}, "names the Python code 'os.path:join'"),
    ],
)
def test_settings_naming_code_need_the_flag(kwargs, match):
    with pytest.raises(UntrustedFileError, match=f"{match}.*--allow-entry-points"):
        check_plain_env_kwargs(kwargs, source="f.json")
    assert check_plain_env_kwargs(kwargs, allow_entry_points=True) == kwargs


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"allow_entry_points": True}, "the caller's, never a file's"),
        ({"trust_remote_code": True}, "the caller's, never a file's"),
        ({"critic_kwargs": {"trust_remote_code": True}}, "only the caller may set"),
        ({"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}, "nested more than"),
    ],
)
def test_no_flag_lifts_caller_flags_or_non_data(kwargs, match):
    with pytest.raises(UntrustedFileError, match=match):
        check_plain_env_kwargs(kwargs, allow_entry_points=True)


def test_env_ids_and_entry_points():
    assert check_env_id("ImagePoser-v0") == "ImagePoser-v0" and check_env_id(None) is None
    with pytest.raises(UntrustedFileError, match="import the module 'evil'"):
        check_env_id("evil:Env-v0")
    with pytest.raises(UntrustedFileError, match="not a registered env id"):
        check_env_id("Nope-v9")
    assert check_env_entry_point(None) == "poser_env.env:ImagePoserEnv"
    with pytest.raises(UntrustedFileError, match="not ImagePoser's env"):
        check_env_entry_point("os:abort")
    assert is_code_reference("a.b:C") and is_code_reference({"entry_point": "x"}) and not is_code_reference("hash")


def test_saves_drop_default_components_and_caller_flags():
    from poser_env.trust import plain_components

    kept = plain_components(
        {"critic": dict(DEFAULT_CRITIC), "allow_entry_points": True, "trust_remote_code": True, "suite": "mixed"}
    )
    assert kept == {"suite": "mixed"}
