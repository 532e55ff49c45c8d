"""TensorRT 10 INT8 entropy calibration over the calibration set, with its calibration cache files.

The batching and the cache file are plain Python (CalibrationBatches, CalibrationCache) so they run and are
tested without TensorRT; `entropy_calibrator` wraps them in a tensorrt.IInt8EntropyCalibrator2 when TensorRT
and CUDA are present. Pass the result to engines' TrtEngine / build_engine(..., calibrator=...).
`write_trt_ep_table` computes the same entropy ranges with ONNX Runtime's calibrator, on any CPU, as the table
ONNX Runtime's TensorRT provider reads (trt_int8_calibration_table_name).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from errors import ConfigError


class CalibrationBatches:
    """Whole batches of named inputs, in order, from per-sample feeds (batch-1 dicts as calibration_feeds makes).

    A last partial batch is dropped: TensorRT's engine input has a fixed batch size.
    """

    def __init__(self, feeds: list[dict[str, np.ndarray]], batch_size: int):
        if batch_size < 1 or len(feeds) < batch_size:
            raise ConfigError(f"{len(feeds)} calibration samples cannot fill one batch of {batch_size}; lower calibration.trt_batch")
        self.batch_size = batch_size
        self.names = list(feeds[0])
        self.count = len(feeds) // batch_size
        self._stacked = {n: np.ascontiguousarray(np.concatenate([f[n] for f in feeds[: self.count * batch_size]]), np.float32) for n in self.names}
        self.position = 0

    def next_batch(self) -> dict[str, np.ndarray] | None:
        """The next batch, or None when every batch has been given (TensorRT then stops calibrating)."""
        if self.position >= self.count:
            return None
        lo = self.position * self.batch_size
        self.position += 1
        return {n: a[lo : lo + self.batch_size] for n, a in self._stacked.items()}

    def rewind(self) -> None:
        self.position = 0


class CalibrationCache:
    """The calibration cache file TensorRT writes after calibrating and reads instead of calibrating again.

    Stale when the network or the set changed: `key` (the ONNX file's and the set's hash) sits in a sidecar file,
    and a cache whose key differs is not given to TensorRT.
    """

    def __init__(self, path: Path, key: str):
        self.path = Path(path)
        self.key = key
        self.key_path = self.path.with_name(self.path.name + ".key")

    def read(self) -> bytes | None:
        if not self.path.is_file() or not self.key_path.is_file() or self.key_path.read_text().strip() != self.key:
            return None
        return self.path.read_bytes()

    def write(self, blob: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(bytes(blob))
        tmp.replace(self.path)
        self.key_path.write_text(self.key + "\n")


def entropy_calibrator(batches: CalibrationBatches, cache: CalibrationCache):
    """A tensorrt.IInt8EntropyCalibrator2 feeding `batches` from CUDA buffers (needs tensorrt and torch CUDA)."""
    import tensorrt as trt
    import torch

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.buffers: dict[str, torch.Tensor] = {}

        def get_batch_size(self) -> int:
            return batches.batch_size

        def get_batch(self, names: list[str]) -> list[int] | None:
            batch = batches.next_batch()
            if batch is None:
                return None
            for name in names:
                host = torch.from_numpy(batch[name])
                if name not in self.buffers:
                    self.buffers[name] = torch.empty(host.shape, dtype=torch.float32, device="cuda")
                self.buffers[name].copy_(host)
            torch.cuda.synchronize()
            return [int(self.buffers[name].data_ptr()) for name in names]

        def read_calibration_cache(self) -> bytes | None:
            return cache.read()

        def write_calibration_cache(self, blob) -> None:
            cache.write(bytes(blob))

    return EntropyCalibrator()


def write_trt_ep_table(onnx_path: Path, feeds: list[dict[str, np.ndarray]], out_dir: Path) -> Path:
    """Entropy-calibrate every tensor of the float graph on `feeds`; write calibration.{flatbuffers,cache,json} to out_dir."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator
    from onnxruntime.quantization.quant_utils import write_calibration_table

    from calibration.quantise import FeedReader

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        calibrator = create_calibrator(
            str(onnx_path), [], augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.Entropy, extra_options={"symmetric": True},  # TensorRT's INT8 is symmetric
        )
        calibrator.set_execution_providers(["CPUExecutionProvider"])
        calibrator.collect_data(FeedReader(feeds))
        write_calibration_table(calibrator.compute_data(), dir=str(out_dir))
    return out_dir / "calibration.flatbuffers"
