"""Experts of ImagePoser (see poser_env/experts/base.py for the contract)."""
