"""sclib: a reproducible study of fast neural-network training (see README.md).

Submodules are imported on first use (``sclib.train``, ``sclib.data``, ...), so that a
notebook's fingerprint covers only the modules it really uses (see ``sclib.runner``).
"""
import importlib
import os

from .errors import ConfigError, DataMissingError  # noqa: F401

if os.environ.get("SCLIB_DTYPE"):  # set by profiles.use_dtype in a parent process (torchrun workers)
    import torch

    torch.set_default_dtype(getattr(torch, os.environ["SCLIB_DTYPE"]))

__version__ = "0.1.0"
__all__ = ["bench", "data", "errors", "experiments", "lr_finder", "metrics", "models", "papers",
           "plotting", "profiles", "report", "runner", "schedules", "train"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sclib' has no attribute {name!r}")
