"""The benchmark's exception hierarchy.

Every error a user can cause is one of these, with a message that states the
rule, what was received and how to fix it. Programs catch `BenchmarkError` at
their top level and print one line instead of a traceback.
"""


class BenchmarkError(Exception):
    """Base class of all errors the benchmark reports to its users."""


class DatasetError(BenchmarkError):
    """A prepared dataset does not follow the layout (missing, empty, bad)."""


class SubmissionError(BenchmarkError):
    """A code directory does not provide the model API."""


class PredictionError(BenchmarkError):
    """A model returned a prediction that breaks the output contract."""


class ProtocolError(BenchmarkError):
    """Ingestion output files are missing or malformed."""
