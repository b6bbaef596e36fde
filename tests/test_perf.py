"""msp_pynq.perf: measurements on the real emulated runtime, the figure files, the plots' content."""
from __future__ import annotations

import json

import numpy as np
import pytest

from msp_pynq import perf
from msp_pynq.jupyter import find_file
from msp_pynq.perf.measure import batch_images
from msp_pynq.perf.plots import STAGE_ORDER
from msp_pynq.runtime import Runtime
from msp_pynq.perf.runtime_bench import peers_markdown, time_runs

Z2_BUNDLE = "models/resnet20-msp8-exact.pynq-z2.mspb"


@pytest.fixture(scope="module")
def rt():
    with Runtime.open("pynq-z2", emulate=True, log=None) as runtime:
        runtime.load(find_file(Z2_BUNDLE))
        yield runtime


@pytest.fixture(scope="module")
def measured(rt):
    """(Throughput of batches 3 and 1, the report of the last run: batch 1)."""
    t = perf.measure(rt, batches=(3, 1), seconds=0, min_runs=2)
    return t, rt.report()


# ---- measure ---------------------------------------------------------------------------
def test_measure_respects_the_batches_and_derives_rates_from_the_report(measured):
    t, report = measured
    assert [p.batch for p in t.points] == [3, 1]
    assert (t.board, t.mode, t.engine_kind) == ("pynq-z2", "emulated", "modelled")
    last = report["last_run"]
    p1 = t.point(1)
    assert p1.runs == 2 and p1.clock_mhz == report["engine"]["clock_mhz"] == 125.0
    assert p1.engine_cycles == last["engine_cycles"]          # the same cycles every run
    assert p1.engine_s == last["engine_s"] == last["engine_cycles"] / 125e6
    for p in t.points:
        assert p.engine_fps == pytest.approx(p.batch / p.engine_s, rel=1e-12)
        assert p.engine_ms_per_image == pytest.approx(1e3 * p.engine_s / p.batch, rel=1e-12)
        assert p.host_fps == pytest.approx(p.batch / p.wall_s, rel=1e-12)
        assert p.host_overhead_s == pytest.approx(p.wall_s - p.stages_s["device_model_s"], rel=1e-12)
        assert 0 < p.stages_s["emulator_s"] < p.stages_s["device_model_s"] < p.wall_s
    with pytest.raises(KeyError, match=r"batch 2 was not measured; measured: \[3, 1\]"):
        t.point(2)


def test_the_cycle_model_alone_gives_the_runtimes_cycles(rt, measured):
    t, _ = measured
    batches = (1, 3, rt.batch + 1)                              # the last one takes two engine batches
    modelled = perf.model_bundle(find_file(Z2_BUNDLE), batches)
    assert [p.engine_cycles for p in modelled[:2]] == [t.point(1).engine_cycles, t.point(3).engine_cycles]
    rt.run(batch_images(rt, rt.batch + 1))
    assert rt.report()["last_run"]["batches"] == 2
    assert modelled[2].engine_cycles == rt.report()["last_run"]["engine_cycles"]
    assert all(p.clock_mhz == 125.0 for p in modelled)


def test_bundle_macs_and_the_engines_macs_per_cycle():
    # ResNet-20 at 32x32: conv1 32*32*16*27, six 3x3 convs 32*32*16*144, then 16*16*32*144 + five
    # 16*16*32*288 + a 1x1 shortcut 16*16*32*16, 8*8*64*288 + five 8*8*64*576 + 8*8*64*32, fc 64*10
    assert perf.bundle_macs(find_file(Z2_BUNDLE)) == 40_813_184
    p = perf.EnginePoint(batch=2, engine_cycles=1000, clock_mhz=100.0)
    assert (p.engine_s, p.engine_ms_per_image, p.macs_per_cycle(500)) == (1e-5, 5e-3, 1.0)
    assert p.engine_fps == pytest.approx(2e5, rel=1e-12)


def test_measure_refuses_bad_batches_and_an_empty_runtime(rt):
    for bad in [(0,), (2, -1), ("4",), (1.5,), ()]:
        with pytest.raises(ValueError, match="batch sizes must be positive integers|no batch sizes"):
            perf.measure(rt, batches=bad, seconds=0, min_runs=1)
    with pytest.raises(ValueError, match="min_runs must be at least 1, got 0"):
        time_runs(rt, batch_images(rt, 1), seconds=0, min_runs=0)
    with Runtime.open("zcu104", emulate=True, log=None) as empty:
        with pytest.raises(ValueError, match="no bundle loaded"):
            perf.measure(empty, batches=(1,), seconds=0)


def test_batch_images_repeat_the_given_images_and_check_them(rt):
    imgs = np.arange(2 * 32 * 32 * 3, dtype=np.uint32).astype(np.uint8).reshape(2, 32, 32, 3)
    x = batch_images(rt, 5, imgs)
    assert x.shape == (5, 32, 32, 3) and (x[4] == imgs[0]).all() and (x[3] == imgs[1]).all()
    with pytest.raises(ValueError, match=r"expected uint8 \[N, 32, 32, 3\] with N >= 1, got uint8 \[2, 28, 28, 3\]"):
        batch_images(rt, 1, np.zeros((2, 28, 28, 3), np.uint8))


def test_stage_table_splits_the_wall_time(measured):
    t, _ = measured
    table = perf.stage_table(t)
    assert table["batch"] == [3, 1]
    for i, p in enumerate(t.points):
        ms = {k: 1e3 * v / p.batch for k, v in p.stages_s.items()}
        assert table["emulator"][i] == pytest.approx(ms["emulator_s"])
        assert table["dma"][i] == pytest.approx(ms["dma_s"] - ms["emulator_s"])
        assert table["runtime_own"][i] == pytest.approx(1e3 * p.host_overhead_s / p.batch)
        named = sum(table[k][i] for k in STAGE_ORDER if k != "other")
        assert named < p.wall_ms_per_image                   # the stages are parts of the wall time
        assert table["other"][i] == pytest.approx(p.wall_ms_per_image - named)


def test_layer_times_add_up_to_the_runs_engine_time(rt):
    rt.run(batch_images(rt, 2))
    report = rt.report()
    layers = perf.layer_times(report)
    assert [x.name for x in layers] == [job.name for job in rt.program.jobs]
    assert sum(x.cycles for x in layers) == report["last_run"]["engine_cycles"]
    assert sum(x.engine_s for x in layers) == pytest.approx(report["last_run"]["engine_s"], rel=1e-12)
    assert sum(x.share for x in layers) == pytest.approx(1.0)
    assert layers[0].engine_s == layers[0].cycles / 125e6 and layers[0].op == "conv2d"
    with pytest.raises(ValueError, match="no last run"):
        perf.layer_times({"last_run": {}})


# ---- figure files ----------------------------------------------------------------------
def test_peers_file_holds_the_briefs_figures():
    peers = perf.load_peers()
    assert len(peers) == 10
    by = {(p.system, p.model): p for p in peers}
    finn = by["finn-examples CNV-W1A1", "CNV-W1A1"]
    assert (finn.fps, finn.accuracy_pct, finn.clock_mhz, finn.figure_text) == (3020.0, 84.2, 100, "3,020 img/s")
    assert by["BNN-PYNQ CNV", "CNV"].figure_text == "about 632 img/s"
    assert by["onnxruntime int8 on one x86 core", "ResNet-20"].fps == pytest.approx(1e3 / 0.3)
    assert [by["Xilinx DPU 2xB4096", m].fps for m in ("ResNet-18", "ResNet-50")] == [190.0, 94.0]
    assert by["FILM-QNN (MSP family)", "ResNet-18"].accuracy_pct == 70.47
    brevitas = by["Brevitas/FINN CNV-W2A2", "CNV-W2A2"]
    assert brevitas.fps is None and brevitas.accuracy_pct == 89.0 and "140 BRAM" in brevitas.note
    assert all(p.source == "quoted from the project brief (published figures)" for p in peers)


def _write(path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_peers_loader_names_the_file_and_the_problem(tmp_path):
    entry = json.loads(find_file("docs/peers.json").read_text())["peers"][0]
    with pytest.raises(FileNotFoundError, match="nope.json"):
        perf.load_peers(tmp_path / "nope.json")
    with pytest.raises(perf.FigureFileError, match=r"bad.json: not valid JSON"):
        perf.load_peers(_write(tmp_path / "bad.json", "{"))
    with pytest.raises(perf.FigureFileError, match=r"empty.json: expected an object with a non-empty list 'peers'"):
        perf.load_peers(_write(tmp_path / "empty.json", {"peers": []}))
    short = {k: v for k, v in entry.items() if k != "unit"}
    with pytest.raises(perf.FigureFileError, match=r"short.json: peers\[1\] lacks unit"):
        perf.load_peers(_write(tmp_path / "short.json", {"peers": [entry, short]}))
    bad_unit = r"unit.json: peers\[0\] \(finn-examples CNV-W1A1\): figure 3020 'Hz'"
    with pytest.raises(perf.FigureFileError, match=bad_unit):
        perf.load_peers(_write(tmp_path / "unit.json", {"peers": [dict(entry, unit="Hz")]}))


def _resources(bram: float = 60.0) -> dict:
    run = {"summary": {"lut": 500, "ff": 100, "dsp": 9, "bram36": bram}, "generics": {"LUT_ROWS": 2}}
    return {"b": {"device": {"part": "P", "luts": 1000, "ffs": 2000, "dsps": 10, "bram36": 50},
                  "runs": {"mixed": run, "dsp-only": dict(run, summary=dict(run["summary"], lut=200))},
                  "macs_per_cycle": {"mixed": {"total4": 96}, "dsp-only": {"total4": 32}}}}


def test_resources_loader_and_use(tmp_path):
    mixed, dsp = perf.resource_use(perf.load_resources(_write(tmp_path / "r.json", _resources(bram=60))))
    assert (mixed.config, mixed.macs_per_cycle, dsp.macs_per_cycle) == ("mixed", 96, 32)
    assert mixed.percent == {"LUT": 50.0, "FF": 5.0, "DSP": 90.0, "BRAM": 120.0} and not mixed.fits
    assert dsp.percent["LUT"] == 20.0 and mixed.generics == {"LUT_ROWS": 2}
    assert perf.resource_use(_resources(bram=50))[0].fits
    broken = _resources()
    del broken["b"]["runs"]["dsp-only"]
    with pytest.raises(perf.FigureFileError, match=r"broken.json: board 'b' lacks runs.dsp-only.summary"):
        perf.load_resources(_write(tmp_path / "broken.json", broken))
    with pytest.raises(FileNotFoundError, match="missing.json"):
        perf.load_resources(tmp_path / "missing.json")


def test_committed_resources_match_their_json():
    data = perf.load_resources()
    rows = perf.resource_use(data)
    assert [(r.board, r.config) for r in rows] == [(b, c) for b in data for c in ("mixed", "dsp-only")]
    for r in rows:
        run, device = data[r.board]["runs"][r.config]["summary"], data[r.board]["device"]
        assert r.percent["LUT"] == 100.0 * run["lut"] / device["luts"]
        assert r.percent["BRAM"] == 100.0 * run["bram36"] / device["bram36"]
        assert r.macs_per_cycle == data[r.board]["macs_per_cycle"][r.config]["total4"]


def test_accuracy_of_the_committed_bundle(tmp_path):
    assert perf.load_accuracy(Z2_BUNDLE) == 87.86          # docs/results/cifar10_agreement.json
    assert perf.load_accuracy("other.mspb") is None
    with pytest.raises(perf.FigureFileError, match="acc.json: expected a list of runs"):
        perf.load_accuracy(Z2_BUNDLE, _write(tmp_path / "acc.json", {}))


# ---- bars and plots --------------------------------------------------------------------
def test_bars_say_what_they_are(measured):
    t, _ = measured
    with pytest.raises(ValueError, match="kind 'guessed'"):
        perf.Bar("x", 1.0, "guessed")
    with pytest.raises(ValueError, match="fps must be positive"):
        perf.Bar("x", 0.0, "quoted")
    ours = perf.engine_bars(t.points, "pynq-z2", t.engine_kind, accuracy_pct=87.86)
    assert [b.fps for b in ours] == [p.engine_fps for p in t.points]
    assert ours[1].label == "msp-pynq ResNet-20, CIFAR-10, engine, batch 1 (pynq-z2)"
    assert ours[1].text == f"{t.point(1).engine_fps:,.4g} img/s, 87.86%, modelled" and ours[1].ours
    bar, = perf.engine_bars([perf.EnginePoint(1, 216_214, 125.0)], "pynq-z2")
    assert (bar.text, bar.note) == ("578.1 img/s, modelled", "1.730 ms/image at 125 MHz")
    host = perf.host_bars(t)
    assert host[0].kind == "measured" and "emulated on this PC" in host[0].label
    assert [b.fps for b in perf.host_bars(t, batches=[1])] == [t.point(1).host_fps]
    assert perf.Bar("x", 1.0, "quoted", 89.0).text == "1 img/s, 89.0%, quoted"
    peers = perf.peer_bars(perf.load_peers())
    assert len(peers) == 9 and all(b.kind == "quoted" and not b.ours for b in peers)
    assert peers[0].label == "finn-examples CNV-W1A1, CIFAR-10 (Pynq-Z1)"
    assert peers[1].text == "about 632 img/s, quoted" and peers[1].label == "BNN-PYNQ CNV, CIFAR-10 (Pynq-Z2)"
    assert "Xilinx DPU 2xB4096 ResNet-50 (ZCU104)" in [b.label for b in peers]


def test_plot_comparison_draws_each_bar_with_its_label(measured):
    t, _ = measured
    bars = perf.engine_bars([t.point(1)], "pynq-z2", accuracy_pct=87.86) + perf.peer_bars(perf.load_peers())[:2]
    ax = perf.plot_comparison(bars).axes[0]
    assert [p.get_width() for p in ax.patches] == [b.fps for b in bars]
    assert [x.get_text() for x in ax.get_yticklabels()] == [b.label for b in bars]
    assert [x.get_text() for x in ax.texts] == [b.text for b in bars]
    assert ax.texts[1].get_text() == "3,020 img/s, 84.2%, quoted"
    assert ax.get_xscale() == "log"
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["modelled", "quoted"]
    assert ax.get_yticklabels()[0].get_fontweight() == "bold"


def test_plot_throughput_stages_and_layers(rt, measured):
    t, _ = measured
    fps, ms = perf.plot_throughput(t).axes
    assert list(fps.lines[0].get_xdata()) == [3, 1]
    assert list(fps.lines[0].get_ydata()) == [p.engine_fps for p in t.points]
    assert list(ms.lines[1].get_ydata()) == [p.wall_ms_per_image for p in t.points]
    assert "engine (modelled)" in [x.get_text() for x in fps.get_legend().get_texts()]

    table = perf.stage_table(t)
    ax = perf.plot_stages(table).axes[0]
    shown = [s for s in STAGE_ORDER if any(table[s])]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([table[s][i] for s in shown for i in range(2)], rel=1e-12)
    top = ax.patches[-1]                                # last stage of the last batch sits on the rest
    assert top.get_y() == pytest.approx(sum(table[s][1] for s in shown[:-1]))

    rt.run(batch_images(rt, 1))
    layers = perf.layer_times(rt.report())
    ax = perf.plot_layers(layers).axes[0]
    assert [p.get_width() for p in ax.patches] == [1e6 * x.engine_s for x in layers]
    assert [x.get_text() for x in ax.get_yticklabels()] == [x.name for x in layers]
    assert [x.get_text() for x in ax.get_legend().get_texts()] == list(dict.fromkeys(x.op for x in layers))


def test_plot_resources_shows_percentages_per_board():
    rows = perf.resource_use(_resources(bram=60)) + perf.resource_use(
        {"c": dict(_resources()["b"], device=dict(_resources()["b"]["device"], part="Q"))})
    fig = perf.plot_resources(rows)
    assert [ax.get_title() for ax in fig.axes] == ["b (P): mixed / DSP-only 3.00x", "c (Q): mixed / DSP-only 3.00x"]
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [50.0, 5.0, 90.0, 120.0, 20.0, 5.0, 90.0, 120.0]
    assert [x.get_text() for x in ax.get_legend().get_texts()] == [
        "mixed: 96 MACs/cycle (does not fit)", "dsp-only: 32 MACs/cycle (does not fit)"]


def test_bench_report_lists_the_peers_from_the_json():
    text = "\n".join(peers_markdown())
    assert "| finn-examples CNV-W1A1 | Pynq-Z1 | CNV-W1A1 | CIFAR-10 | 3,020 img/s | 84.2% |" in text
    assert "| Brevitas/FINN CNV-W2A2 | Pynq-Z1 | CNV-W2A2 | CIFAR-10 |  | 89.0% |" in text
