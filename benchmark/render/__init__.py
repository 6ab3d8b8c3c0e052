"""Rendering patches and logged matches to audio files (``render``)."""
