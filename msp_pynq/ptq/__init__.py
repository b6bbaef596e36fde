"""Post-training quantization, the front end for a float ONNX CNN: the graph imported as a torch
module (:mod:`.onnx_import`), calibrated and quantized with the MSP quantizer, and exported to a
QDQ ONNX that the compiler takes (:func:`.quantize.quantize_onnx`). Host side (torch, onnx).

>>> from msp_pynq.ptq.quantize import quantize_onnx                           # doctest: +SKIP
>>> quantize_onnx("cnn.onnx", calibration_images, "cnn.qdq.onnx", board="pynq-z2")  # doctest: +SKIP
"""
