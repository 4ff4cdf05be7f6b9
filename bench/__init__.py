"""Benchmarks and result reports: `python -m bench.<name>`."""
