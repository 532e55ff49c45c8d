"""The TensorRT entropy calibrator's batching and cache file (plain Python), and the calibrator itself where TensorRT runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import skimage.data
import torch
from skimage.transform import resize

from calibration.dataset import CalibrationSet, to_crops
from calibration.quantise import calibration_feeds
from calibration.tensorrt_calibrator import CalibrationBatches, CalibrationCache, entropy_calibrator, write_trt_ep_table
from engines.face_encoder import FaceEncoder
from engines.onnx_export import export_onnx
from engines.tensorrt_engine import tensorrt_missing


@pytest.fixture(scope="module")
def data() -> CalibrationSet:
    """Ten real-photo crops (the astronaut at shifted windows) with stand-in latents that tell the crops apart."""
    photo = skimage.data.astronaut()
    crops = np.stack([(resize(photo[20 + 8 * i : 220 + 8 * i, 140:340], (64, 64)) * 255).astype(np.uint8) for i in range(10)])
    latents = np.arange(10, dtype=np.float32)[:, None].repeat(100, 1)
    return CalibrationSet(crops, latents, np.array([f"astronaut#{i}" for i in range(10)]), crops[:2], np.array(["a", "b"]))


def test_batches_stack_the_set_in_order_and_drop_the_partial_one(data):
    feeds = calibration_feeds("encoder", data, 6, 2.0, 0)
    batches = CalibrationBatches(feeds, 4)
    assert batches.count == 2 and batches.names == ["image"]
    first, second = batches.next_batch(), batches.next_batch()
    assert batches.next_batch() is None  # TensorRT stops calibrating here
    assert first["image"].shape == (4, 3, 64, 64) and first["image"].dtype == np.float32 and first["image"].flags.c_contiguous
    assert np.array_equal(to_crops(np.concatenate([first["image"], second["image"]])), data.crops[:8])
    batches.rewind()
    assert np.array_equal(batches.next_batch()["image"], first["image"])


def test_editor_batches_carry_latents_and_edits(data):
    batches = CalibrationBatches(calibration_feeds("mapper+generator", data, 6, 2.0, 0), 5)
    batch = batches.next_batch()
    assert set(batch) == {"latent", "delta"} and batch["latent"].shape == (5, 100) and batch["delta"].shape == (5, 6)
    assert np.array_equal(batch["latent"][:, 0], np.arange(5, dtype=np.float32))
    asked = np.count_nonzero(batch["delta"], axis=1)
    assert ((asked >= 1) & (asked <= 2)).all() and np.abs(batch["delta"]).max() <= 2.0


def test_too_few_samples_for_one_batch_names_the_setting(data):
    with pytest.raises(ValueError, match="calibration.trt_batch"):
        CalibrationBatches(calibration_feeds("generator", data, 6, 2.0, 0), 16)


def test_cache_round_trip_and_staleness(tmp_path: Path):
    cache = CalibrationCache(tmp_path / "encoder.trt-calibration.cache", key="onnx-a")
    assert cache.read() is None
    cache.write(memoryview(b"TRT-1000-EntropyCalibration2\nimage: 3c010a14\n"))
    assert cache.read() == b"TRT-1000-EntropyCalibration2\nimage: 3c010a14\n"
    assert CalibrationCache(cache.path, key="onnx-b").read() is None  # another network or set: calibrate again


def test_tensorrt_provider_table_covers_the_graph(data, tmp_path):
    torch.manual_seed(0)
    onnx_path = export_onnx(FaceEncoder().eval(), {"image": torch.zeros(1, 3, 64, 64)}, ["latent"], tmp_path / "encoder.onnx")
    table = write_trt_ep_table(onnx_path, calibration_feeds("encoder", data, 6, 2.0, 0), tmp_path / "table")
    assert table.is_file() and table.stat().st_size > 0
    ranges = dict(line.rsplit(" ", 1) for line in (tmp_path / "table/calibration.cache").read_text().splitlines())
    graph_tensors = {o for n in onnx.load(str(onnx_path)).graph.node for o in n.output} | {"image"}
    assert "latent" in ranges and set(ranges) <= graph_tensors
    assert all(float(v) > 0 for v in ranges.values())
    assert float(ranges["image"]) <= 1.0 + 1e-6  # the crops are in [-1, 1]


@pytest.mark.skipif(tensorrt_missing() is not None, reason=f"TensorRT: {tensorrt_missing()}")
def test_entropy_calibrator_feeds_device_buffers(data, tmp_path):
    import tensorrt as trt

    calibrator = entropy_calibrator(CalibrationBatches(calibration_feeds("encoder", data, 6, 2.0, 0), 4), CalibrationCache(tmp_path / "c", "k"))
    assert isinstance(calibrator, trt.IInt8EntropyCalibrator2) and calibrator.get_batch_size() == 4
    pointers = calibrator.get_batch(["image"])
    assert len(pointers) == 1 and pointers[0] != 0
    assert calibrator.get_batch(["image"]) is not None and calibrator.get_batch(["image"]) is None
    assert calibrator.read_calibration_cache() is None
