"""modelsync keeps a catalog of AI models current across inference gateways."""

__version__ = "0.1.0"
