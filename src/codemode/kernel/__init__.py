"""The `codemode` Jupyter kernel ("Python 3 (Code Mode)"): every cell runs in code mode.

`python -m codemode.kernel -f CONNECTION_FILE` runs it (Jupyter does, from its kernel spec);
`python -m codemode.kernel install [--user | --sys-prefix | --prefix DIR]` (or
`codemode kernel install`) installs the spec. A `pip install` already puts the spec under
the environment's `share/jupyter/kernels/codemode`.
"""

from __future__ import annotations

from codemode.kernel._install import KERNEL_NAME, install

__all__ = ["KERNEL_NAME", "install"]
