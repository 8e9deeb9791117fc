"""The feedgen-based reference renderer: what our XML must equal, byte for byte (tests/test_render_identical.py)."""
