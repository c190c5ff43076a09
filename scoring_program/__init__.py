"""The scoring program: scores predictions and computes ALC."""
