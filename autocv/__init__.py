"""Shared core of the Efficient AutoCV Benchmark.

The ingestion and scoring programs, the dataset tools and the meta-benchmark
runner share these modules: the prepared dataset layout, the file protocol,
the metrics, ALC, and the budgets. Nothing here imports TensorFlow.
"""

__version__ = "0.1.0"
