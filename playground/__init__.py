"""Model Playground: experiment with PyTorch models by pointing and clicking."""

__version__ = "0.1.0"
APP_NAME = "ModelPlayground"
