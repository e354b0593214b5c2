"""accountd: an account server for NATS operator mode."""

__version__ = "0.1.0"

__all__ = ["__version__"]
