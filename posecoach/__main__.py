"""`python -m posecoach` runs the command line."""

from posecoach.cli import main

if __name__ == "__main__":
    main()
