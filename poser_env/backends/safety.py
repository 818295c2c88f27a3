"""Deprecated: moved to :mod:`poser_env.experts.safety`. This path re-exports it until the next release."""

from poser_env.deprecation import forward
from poser_env.experts import safety as _new

__getattr__, __dir__ = forward(__name__, _new)
