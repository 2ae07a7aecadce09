"""The package's version, in a module of its own so that layers below the package root can
name it without importing the root (an arrow pointing up)."""

__version__ = "0.1.0"
