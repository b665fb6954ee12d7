"""`python -m posecoach` runs the command line."""

from posecoach.cli import main

main()
