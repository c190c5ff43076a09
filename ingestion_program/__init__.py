"""The ingestion program: runs a submission under the time budget."""
