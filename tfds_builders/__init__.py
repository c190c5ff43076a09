"""TFDS builders and tools of the Efficient AutoCV meta-dataset.

Importing this package registers the two TFDS builders, so any project can

    import tfds_builders
    import tensorflow_datasets as tfds
    tfds.load("efficient_autocv_classification/ibeans", ...)

The import loads tensorflow_datasets (about half a second) but not
TensorFlow, which TFDS imports only when data is built or read. The tools
are submodules: `registry` (the table), `prepare` (download and prepare),
`cards` (statistics and image grids).
"""

from tfds_builders.builders import (
    EfficientAutocvClassification,
    EfficientAutocvDetection,
    register_folder,
)

__all__ = [
    "EfficientAutocvClassification",
    "EfficientAutocvDetection",
    "register_folder",
]
