"""The ``parcours`` command line: thin commands over the Python API."""
