"""The feedgen-based reference renderer: what our XML must say.

tests/test_render_identical.py compares the two in canonical form.
"""
