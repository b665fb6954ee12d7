"""Where posecoach finds its own files, wherever it is installed.

The web front end ships inside the package (`posecoach/web` in an installed wheel, the
checkout's `web/` folder in a development install). Pose models are never written into the
package: they live in `$POSECOACH_MODELS_DIR` when that is set (`make` points it at the
checkout's `models/`), otherwise in the user's data folder (for example
`~/.local/share/posecoach/models` on Linux).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs

APP_NAME = "posecoach"
MODELS_DIR_ENV = "POSECOACH_MODELS_DIR"


def web_dir() -> Path:
    """The folder holding the browser front end (HTML, CSS, scripts).

    The one beside this package: inside it in a wheel, the checkout's `web/` in a checkout
    (so a second checkout of the project serves its own pages, not those of the checkout an
    editable install points at).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "web", here.parent / "web"):
        if (candidate / "layout.html").is_file():
            return candidate
    return Path(str(resources.files("posecoach.web")))


def models_dir() -> Path:
    """The folder where pose model bundles are looked for and built."""
    configured = os.environ.get(MODELS_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return platformdirs.user_data_path(APP_NAME) / "models"
