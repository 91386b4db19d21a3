"""Real profile traces: a recorder (``eat-bench profile``) and a live emulated cluster (``eat-bench live``).

- :mod:`eat_bench.profiling.models`: the architectures (sd15, sdxl, tiny, tiny-xl) and one request's work.
- :mod:`eat_bench.profiling.recorder`: times a diffusers UNet/VAE/text encoder and writes a ``measured`` trace.
- :mod:`eat_bench.profiling.live`: worker processes run real diffusion steps as servers; the simulator's
  prediction for the same decisions is compared per task.

Importing this package is cheap; the submodules import torch and diffusers (the ``profile`` extra), so
import them only when needed, after :func:`require_profile_extra`.
"""

from __future__ import annotations

import importlib.util

__all__ = ["ProfileError", "require_profile_extra", "INSTALL_HINT"]

INSTALL_HINT = 'pip install -e ".[profile]"'


class ProfileError(ValueError):
    """Bad input or an unusable environment for the recorder or the live mode (a clear message)."""


def require_profile_extra() -> None:
    """Raise :class:`ProfileError` naming the missing packages unless torch and diffusers import."""
    missing = [name for name in ("torch", "diffusers") if importlib.util.find_spec(name) is None]
    if missing:
        raise ProfileError(
            f"the profile extra is not installed (missing: {', '.join(missing)}); install it with {INSTALL_HINT}"
        )
