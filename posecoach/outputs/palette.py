"""The body-side colours shared by the video overlay, the report plots and the web page.

Both are Okabe-Ito colours, told apart with the common colour-vision deficiencies, light enough
to read on video as well as on a white plot, and unlike the green, amber and red that grade
posture. The web page's copy is the `--side-left` and `--side-right` custom properties in
`web/app.css`, which a test keeps equal to these.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

LEFT_HEX = "#56B4E9"  # sky blue
RIGHT_HEX = "#CC79A7"  # reddish purple
SIDE_HEX: dict[str, str] = {"left": LEFT_HEX, "right": RIGHT_HEX}


def hex_to_rgb(colour: str) -> RGB:
    """(r, g, b) 0..255 of a "#RRGGBB" colour."""
    value = colour.removeprefix("#")
    if len(value) != 6:
        raise ValueError(f"expected a #RRGGBB colour, got {colour!r}")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


LEFT_RGB: RGB = hex_to_rgb(LEFT_HEX)
RIGHT_RGB: RGB = hex_to_rgb(RIGHT_HEX)
