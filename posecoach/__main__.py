"""`python -m posecoach` runs the command line."""

from .cli import main

main()
