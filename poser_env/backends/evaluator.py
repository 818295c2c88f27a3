"""Deprecated: moved to :mod:`poser_env.evaluators.model_judge`. This path re-exports it until the next release."""

from poser_env.deprecation import forward
from poser_env.evaluators import model_judge as _new

__getattr__, __dir__ = forward(__name__, _new)
