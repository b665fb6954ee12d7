"""posecoach's benchmark (`make bench`); not part of the installed package."""
