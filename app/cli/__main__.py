"""`python -m app.cli`: the `sentinel` command without the installed script (the tests and benches start it so)."""

from app.cli import main

if __name__ == "__main__":  # importing the module (a package walk) must not run the command
    raise SystemExit(main())
