"""Tests of the live camera demo (msp_pynq.camera)."""
