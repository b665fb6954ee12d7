"""The browser front end, shipped with posecoach as package data (`posecoach.web`)."""
