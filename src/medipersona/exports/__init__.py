"""Exports: persona PDF and PPTX rendered in a process pool, off the event loop."""
