"""INT8 calibration sets, quantisation and the quality gate for quantised engines."""
