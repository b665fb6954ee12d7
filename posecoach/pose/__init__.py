"""Pose: the 33 BlazePose landmarks, the model that finds them, and following the walker."""
