"""The ``parcours`` command line: thin commands over the Python API.

Every command module is imported to build the app, even for ``parcours --help``, so a module
imports at its top only what is light; a command whose analysis loads scikit-learn, SciPy,
Numba, PySpark, Plotly or FastAPI imports it inside the command function (see
``tests/test_cli_startup.py``).
"""
