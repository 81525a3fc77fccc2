"""The ``bpfman`` command line (``bpfman.cli.main:main``)."""
