"""Video in and out: probing files, decoding, cameras, and browser-playable H.264 clips."""
