"""Code the tests share: fixtures (the `tests.support.fixtures` plugin, registered in tests/conftest.py) and plain
modules of builders and readers. A test module imports shared code from here, never from another test module or
a conftest."""
