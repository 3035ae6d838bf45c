"""Benchmarks: modules that print numbers (not tests). Each runs as `python -m bench.<name>` from the repository
root, with the project and the sandbox installed (scripts/bootstrap.sh test)."""
