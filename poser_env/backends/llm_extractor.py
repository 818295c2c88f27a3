"""Deprecated: moved to :mod:`poser_env.extractors.llm`. This path re-exports it until the next release."""

from poser_env.deprecation import forward
from poser_env.extractors import llm as _new

__getattr__, __dir__ = forward(__name__, _new)
