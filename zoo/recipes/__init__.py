"""Runnable recipes: `python -m zoo.recipes.<name>`."""
