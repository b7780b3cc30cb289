"""PyInstaller's entry script for the frozen client: the same `main` as the console script."""

import sys

from cpdesk.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
