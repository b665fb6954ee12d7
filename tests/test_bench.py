"""The benchmark's pieces: statistics, the table, the clip cut and the memory probe.

No timing is asserted: numbers depend on the machine. The whole benchmark takes minutes, so
its parts are tested here on given inputs and on a short real clip.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest
from rich.console import Console

from benchmarks.bench import (
    SIDE_CLIP,
    TARGETS,
    Batch,
    BenchReport,
    Live,
    Memory,
    ModelInput,
    Multi,
    Soak,
    Throughput,
    build_table,
    cut_clip,
    measure_multi,
    measure_soak,
    median,
    percentile,
    ratio,
    run_measured,
)
from tests.conftest import VIDEO


def test_percentile_interpolates_like_numpy():
    values = [12.0, 3.0, 7.5, 40.0, 18.0, 9.0, 11.0]
    for q in (0, 5, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))
    assert percentile([5.0], 95) == 5.0
    assert math.isnan(percentile([], 50))
    assert percentile([1.0, math.nan, 3.0], 50) == 2.0


def test_median_and_ratio():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert math.isnan(median([]))
    assert ratio(27.0, 30.0) == pytest.approx(0.9)
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 2.0))


def _render(report: BenchReport) -> str:
    console = Console(record=True, width=240)
    console.print(build_table(report))
    return console.export_text()


def test_table_has_every_measurement_and_its_ratios():
    report = BenchReport(quick=True, repeats=3, load=[0.5, 1.5])
    report.throughput = [
        Throughput("side.mp4", 1920, 1080, 135, (1280, 720), model_fps=[20.0, 30.0, 25.0],
                   analyze_fps=[22.0, 21.0, 23.0], analyze_loop_fps=[24.0, 24.0, 24.0],
                   plain_fps=[14.0, 15.0, 16.0]),
        Throughput("bad.mp4", error="VideoError: bad.mp4 is damaged"),
    ]
    report.model_input = ModelInput("side.mp4", 1920, 1280, 24.0, 25.0, 0.02, 0.14)
    report.live = [Live(30.0, 20.0, sent=600, processed=580, dropped=20,
                        latencies_ms=[float(v) for v in range(1, 101)],
                        rss_start_kib=200 * 1024, rss_mid_kib=250 * 1024,
                        rss_end_kib=251 * 1024, rss_peak_kib=300 * 1024),
                   Live(60.0, 10.0, error="RuntimeError: no server")]
    report.memory = [Memory("10 s cut", 10.0, 400 * 1024, 5.0),
                     Memory("whole clip", 139.0, 420 * 1024, 60.0)]
    report.batch = [Batch(1, 4, 40.0), Batch(2, 4, 30.0, failed=1)]

    text = _render(report)

    assert "median of 3 run(s)" in text and "load average 0.5-1.5" in text
    assert "model only 25.0 fps" in text
    assert "analyze 22.0 fps" in text
    assert "plain loop 15.0 fps" in text
    assert "0.88x model only" in text and "1.47x plain loop" in text
    assert "frame loop alone 24.0 fps" in text
    assert "VideoError: bad.mp4 is damaged" in text
    assert "trunk median moves 0.02 deg" in text and "1.04x" in text
    assert "p50 50.5 / p95 95.0 / p99 99.0 ms" in text
    assert "600 sent, 580 processed, 20 dropped" in text
    assert "RuntimeError: no server" in text
    assert "300 MiB peak" in text and "quick: shorter than 2 minutes" in text
    assert "RSS 200 MiB at the start, 250 half-way, 251 at the end" in text
    assert "420 MiB peak RSS" in text and "1.05x the 10 s cut" in text
    assert "1.33x speed-up over --jobs 1" in text and "1 failed" in text


def test_report_json_has_the_medians():
    report = BenchReport(quick=False, repeats=2)
    report.throughput = [Throughput("a.mp4", model_fps=[10.0, 20.0], analyze_fps=[9.0, 11.0])]
    report.live = [Live(30.0, 5.0, latencies_ms=[10.0, 20.0, 30.0])]
    data = report.to_json()
    assert data["throughput"][0]["model"] == 15.0 and data["throughput"][0]["analyze"] == 10.0
    assert data["live"][0]["p50"] == 20.0 and "latencies_ms" not in data["live"][0]


def test_cut_clip_keeps_the_first_seconds(tmp_path):
    cut = cut_clip(VIDEO / "back_view_people_139s.mp4", tmp_path / "cut.mp4", 10.0)
    with av.open(str(cut)) as clip:
        frames = sum(1 for _ in clip.decode(video=0))
    assert 95 <= frames <= 100  # 10 frames/s


def test_run_measured_reads_the_childs_peak_memory(tmp_path):
    code, peak_kib, seconds = run_measured(["--help"], tmp_path / "peak.txt")
    assert code == 0
    assert 10 * 1024 < peak_kib < 4 * 1024 * 1024
    assert seconds > 0


def test_data_folder_is_found():
    from benchmarks.bench import DATA_DIR

    assert Path(VIDEO).resolve() == DATA_DIR.resolve()


def test_the_command_line_passes_its_options(monkeypatch, tmp_path):
    import benchmarks.bench as bench

    calls = []
    monkeypatch.setattr(bench, "run_benchmarks",
                        lambda out, repeats, quick: calls.append((out, repeats, quick)))
    assert bench.main(["--out", str(tmp_path), "--repeats", "2", "--quick"]) == 0
    assert bench.main([]) == 0
    assert calls == [(tmp_path, 2, True), (Path("out/bench"), 3, False)]
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "0"])


def test_soak_ratio_and_table_row():
    soak = Soak(5, 3.0, 15.0, rss_start_kib=100 * 1024,
                rss_after_kib=[250 * 1024, 280 * 1024, 300 * 1024, 290 * 1024, 294 * 1024],
                frames=[40, 41, 39, 40, 42])
    assert soak.flat_ratio == pytest.approx(300 / 280)
    assert math.isnan(Soak(1, 3.0, 15.0, rss_after_kib=[250.0]).flat_ratio)
    report = BenchReport(quick=True, repeats=1)
    report.soak = soak
    text = _render(report)
    assert "5 live sessions in a row, 3 s each at 15 fps" in text
    assert "1.07x after the 2nd session" in text
    assert "250, 280, 300, 290, 294 MiB" in text and "RSS 100 MiB at the start" in text
    assert report.to_json()["soak"]["flat_ratio"] == pytest.approx(300 / 280)
    failed = BenchReport(quick=True, repeats=1)
    failed.soak = Soak(20, 5.0, 15.0, error="RuntimeError: the server did not start in time")
    assert "the server did not start in time" in _render(failed)


def test_the_soak_measures_the_server_after_each_session(tmp_path):
    logged: list[str] = []
    soak = measure_soak(VIDEO / "side_walk_1080p60.mp4", tmp_path, quick=True,
                        log=logged.append, sessions=3, seconds_each=1.0, settle_s=0.2)
    assert soak.error is None, soak.error
    assert len(soak.rss_after_kib) == 3 and len(soak.frames) == 3
    assert all(frames > 0 for frames in soak.frames)
    assert all(100 * 1024 < kib < 4 * 1024 * 1024 for kib in soak.rss_after_kib)
    assert soak.rss_start_kib < max(soak.rss_after_kib)  # the model loaded on the first session
    assert math.isfinite(soak.flat_ratio)
    assert len(logged) == 4 and "after the 2nd session" in logged[-1]


def test_targets_are_judged_side_by_side():
    report = BenchReport(quick=True, repeats=1, chosen="openvino",
                         cpu="Intel(R) Xeon(R) Processor, AMX yes")
    report.backend_ms = {"litert, 2 threads": [12.0, 13.0, 30.0],
                         "openvino, 2 threads": [6.0, 7.0, 20.0]}
    report.throughput = [
        Throughput(SIDE_CLIP, backend="litert", analyze_fps=[48.0], plain_fps=[30.0]),
        Throughput(SIDE_CLIP, backend="openvino", analyze_fps=[60.0], plain_fps=[30.0])]
    report.live = [Live(30.0, 20.0, backend="litert", latencies_ms=[5.0] * 100),
                   Live(30.0, 20.0, backend="openvino",
                        latencies_ms=[10.0] * 90 + [40.0] * 10),
                   Live(60.0, 10.0, backend="openvino", latencies_ms=[5.0])]
    report.multi = Multi(3, 30.0, 10.0, backend="openvino", sessions=[
        Live(30.0, 10.0, processed=250), Live(30.0, 10.0, processed=190),
        Live(30.0, 10.0, processed=300)])
    report.other_multi = [Multi(3, 30.0, 10.0, backend="litert", sessions=[
        Live(30.0, 10.0, processed=290)] * 3)]
    assert report.multi.results_per_s == [25.0, 19.0, 30.0]
    assert report.multi.slowest == 19.0

    text = _render(report)
    assert "Intel(R) Xeon(R) Processor, AMX yes" in text and "judged on openvino" in text
    assert "25.0 / 19.0 / 30.0 results/s" in text and "29.0 / 29.0 / 29.0 results/s" in text
    assert "7.0 ms" in text and "<= 8 ms: met" in text      # openvino's, not litert's 13 ms
    assert "2.00x" in text and ">= 2x: met" in text
    assert "<= 15 ms: NOT met" in text            # p95 of openvino's 30 frames/s session
    assert "19.0/s" in text and ">= 28/s: NOT met" in text
    judged = {row["goal"]: row["met"] for row in report.to_json()["targets"]}
    assert judged == {TARGETS["model"].goal: True, TARGETS["analyze"].goal: True,
                      TARGETS["live"].goal: False, TARGETS["multi"].goal: False}
    assert report.to_json()["other_multi"][0]["results_per_s"] == [29.0, 29.0, 29.0]

    empty = _render(BenchReport(quick=True, repeats=1))
    assert empty.count("not measured") == len(TARGETS)
    failed = Multi(3, 30.0, 10.0, sessions=[Live(30.0, 10.0, processed=300),
                                            Live(30.0, 10.0, error="client 2: OSError: gone")])
    assert math.isnan(failed.slowest)


def test_three_clients_at_once_each_get_results(tmp_path):
    logged: list[str] = []
    multi = measure_multi(VIDEO / "side_walk_1080p60.mp4", tmp_path, quick=True,
                          log=logged.append, clients=3, fps=10.0, duration_s=2.0)
    assert multi.error is None, multi.error
    assert len(multi.sessions) == 3
    # a server allowing only the default number of sessions would refuse the third client
    assert all(s.processed > 0 and s.error is None for s in multi.sessions)
    assert all(rate > 0 for rate in multi.results_per_s)
    assert multi.server_cpu_s > 0 and multi.cpu_ms_per_result > 0
    assert logged and "3 clients at once" in logged[0]
