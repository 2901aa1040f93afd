"""sclib: a reproducible study of fast neural-network training (see README.md).

Submodules are imported on first use (``sclib.train``, ``sclib.data``, ...), so that a
notebook's fingerprint covers only the modules it really uses (see ``sclib.runner``).
"""
import importlib

from .errors import ConfigError, DataMissingError  # noqa: F401

__version__ = "0.1.0"
__all__ = ["bench", "data", "errors", "experiments", "lr_finder", "metrics", "models", "papers",
           "plotting", "profiles", "report", "runner", "schedules", "train"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sclib' has no attribute {name!r}")
