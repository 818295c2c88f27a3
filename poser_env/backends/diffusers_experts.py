"""Deprecated: moved to :mod:`poser_env.experts.diffusion`. This path re-exports it until the next release."""

from poser_env.deprecation import forward
from poser_env.experts import diffusion as _new

__getattr__, __dir__ = forward(__name__, _new)
