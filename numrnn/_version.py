"""The package version, in a module of its own so that nothing imports back up into ``numrnn``."""

__version__ = "0.1.0"
