"""Deprecated: moved to :mod:`poser_env.presets`. This path re-exports it until the next release."""

from poser_env import presets as _new
from poser_env.deprecation import forward

__getattr__, __dir__ = forward(__name__, _new)
