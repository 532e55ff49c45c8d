"""Networks, checkpoints, ONNX export and the runtimes that run them per frame."""
