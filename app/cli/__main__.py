"""`python -m app.cli`: the `sentinel` command without the installed script (the tests and benches start it so)."""

from app.cli import main

raise SystemExit(main())
