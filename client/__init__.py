"""weir: a stream-processing cluster in Python with a PyFlink-style DataStream API."""

__all__ = ["__version__"]

__version__ = "0.1.0"
