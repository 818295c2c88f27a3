"""Extractors of ImagePoser (see poser_env/extractors/base.py for the contract)."""
