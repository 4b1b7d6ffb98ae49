"""The reviewer workbench: score, sign, publish and audit a national evaluation of AI foundation models."""

import logging
from importlib.metadata import PackageNotFoundError, version

# Library modules log to children of the "workbench" logger; the application (the CLI, a notebook) decides
# where records go. Without a configuration nothing is printed below WARNING.
logging.getLogger(__name__).addHandler(logging.NullHandler())

try:
    __version__ = version("reviewer-workbench")
except PackageNotFoundError:  # running from a source checkout without installing
    __version__ = "0.1.0"

__all__ = ["__version__"]
