"""Options, configuration files and landmark cells a hostile or unlucky user gives: each gets
one plain line and a non-zero exit, never a traceback, and nothing is made on the way."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from posecoach.cli import app
from posecoach.errors import LandmarksCSVError
from posecoach.outputs.landmarks_csv import HEADER, read_landmarks_csv


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env=env)
    output = " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    return result.exit_code, output


@pytest.fixture
def configs(tmp_path: Path) -> dict[str, Path]:
    files = {
        "deep arrays": ("a = " + "[" * 5000 + "]" * 5000 + "\n").encode(),
        "deep tables": ("[" + ".".join(["a"] * 3000) + "]\nx = 1\n").encode(),
        "latin-1": 'level = "beginner" # caf\xe9\n'.encode("latin-1"),
    }
    out = {}
    for name, data in files.items():
        out[name] = tmp_path / f"{name.replace(' ', '-')}.toml"
        out[name].write_bytes(data)
    return out


@pytest.mark.parametrize(("config", "words"), [
    ("deep arrays", "nests its arrays or tables too deeply"),
    ("deep tables", "nests its arrays or tables too deeply"),
    ("latin-1", "not a text file in UTF-8"),
])
@pytest.mark.parametrize("command", ["analyze", "serve"])
def test_a_bad_config_file_is_named_plainly(configs: dict[str, Path], tmp_path: Path,
                                            config: str, words: str, command: str) -> None:
    data_dir = tmp_path / "data"
    args = (["analyze", str(tmp_path / "none.mp4")] if command == "analyze"
            else ["serve", "--data-dir", str(data_dir)])
    code, output = _run([*args, "--config", str(configs[config])])
    assert code == 2 and words in output and configs[config].name in output, output
    assert not data_dir.exists()


@pytest.mark.parametrize(("args", "env", "words"), [
    (["serve", "--max-upload-mb", "1e308"], {}, "--max-upload-mb is too large"),
    (["serve", "--max-duration-min", "1e300"], {}, "--max-duration-min is too large"),
    (["serve"], {"POSECOACH_MAX_UPLOAD_MB": "1e308"}, "POSECOACH_MAX_UPLOAD_MB is too large"),
    (["analyze", "x.mp4", "--height-cm", "nan"], {}, "must be a number between 50 and 260 cm"),
    (["analyze", "x.mp4", "--person", "Ann\udcff"], {}, "--person is not valid text"),
    (["analyze", "x.mp4", "--test", "3m-backward", "--floor-marks", ""], {},
     "floor marks need 8 numbers"),
    (["analyze", "x.mp4", "--floor-marks", ""], {}, "go with --test 3m-backward"),
])
def test_a_bad_option_gets_one_plain_line(tmp_path: Path, args: list[str], env: dict[str, str],
                                          words: str) -> None:
    data_dir = tmp_path / "data"
    extra = ["--data-dir", str(data_dir)] if args[0] == "serve" or "--person" in args else []
    code, output = _run([*args, *extra], env=env)
    assert code == 2 and words in output, output
    assert not data_dir.exists()


@pytest.mark.parametrize(("cell", "words"), [
    ("nan", "time_s is 'nan', not a number"),
    ("", "time_s is empty"),
])
def test_a_time_cell_that_is_no_number_says_what_it_holds(tmp_path: Path, cell: str,
                                                          words: str) -> None:
    path = tmp_path / "walk.csv"
    path.write_text(",".join(HEADER) + "\n" + f"0,{cell},640,480," + ",".join(["1"] * 132)
                    + "\n")
    with pytest.raises(LandmarksCSVError) as refused:
        read_landmarks_csv(path)
    assert words in str(refused.value)
