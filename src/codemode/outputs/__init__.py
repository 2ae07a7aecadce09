"""Rich outputs from the worker, made safe to show (see `_clean` for what passes and why)."""

from __future__ import annotations

from codemode.outputs._clean import (
           MAX_REPRESENTATION,
           MAX_RUN,
           Outputs,
           Tally,
           clean_bundle,
           clean_html,
           result_bundle,
)
from codemode.outputs._svg import clean_svg

__all__ = ["MAX_REPRESENTATION", "MAX_RUN", "Outputs", "Tally", "clean_bundle", "clean_html", "clean_svg",
           "result_bundle"]
