"""ImagePoser environment package: the shape world, and (soon) the Gymnasium environment."""

__version__ = "0.1.0"
