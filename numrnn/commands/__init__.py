"""The ``numrnn`` command-line commands, one module each (see :mod:`numrnn.cli`)."""
