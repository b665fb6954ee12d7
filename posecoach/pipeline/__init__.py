"""Running the stages: whole clips, live sessions' recordings, and batches of files."""
