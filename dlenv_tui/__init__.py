"""dlenv: a terminal wizard from bare Linux + NVIDIA GPU to a running deep-learning container."""

__version__ = "0.1.0"
