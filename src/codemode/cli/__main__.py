"""`python -m codemode.cli`: the same as the `codemode` command."""

import sys

from codemode.cli import main

sys.exit(main())
