"""The ``parcours`` command line: thin commands over the Python API.

A command's module is imported only when that command runs or its help is asked
(``lazy_group``); ``parcours --help`` lists the commands from the registry in ``commands``.
A module still imports at its top only what is light, since its commands' help imports it:
a command whose analysis loads scikit-learn, SciPy, Numba, PySpark, Plotly or FastAPI imports
it inside the command function (see ``tests/test_cli_startup.py``).
"""
