"""Developer tooling (test browser set-up). Not used by posecoach at run time."""
