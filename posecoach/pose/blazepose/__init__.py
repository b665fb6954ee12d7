"""BlazePose (MediaPipe's pose detector and full landmark model) on LiteRT or OpenVINO.

`detector` finds people (SSD anchors, score decoding, weighted non-maximum suppression and the
two alignment keypoints), `roi` turns a detection or the previous frame's landmarks into the
rotated square the landmark model looks at, `landmarker` runs the landmark model on that square
and projects its points back to pixels, `filters` smooths them over time as MediaPipe's video
mode does, `runtime_io` loads a model into either engine, and `runtime` (`BlazePose`) tracks
each person from frame to frame.
"""
