"""Critics of ImagePoser (see poser_env/critics/base.py for the contract)."""
