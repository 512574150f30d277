"""Rendering: Jinja2 templates inlined once per town, and the bytes of each message."""
