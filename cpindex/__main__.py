"""`python -m cpindex ...` runs the same CLI as the `cpindex` console script."""

from cpindex.cli import main

raise SystemExit(main())
