"""The reviewer workbench: score, sign, publish and audit a national evaluation of AI foundation models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reviewer-workbench")
except PackageNotFoundError:  # running from a source checkout without installing
    __version__ = "0.1.0"

__all__ = ["__version__"]
