import sys

from codemode.cli import main

sys.exit(main())
