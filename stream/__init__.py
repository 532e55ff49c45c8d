"""The live path: capture, faces, alignment, blending, sinks, hotkeys and the pipeline."""
