"""The clinic catalog: departments, chief complaints, patient types, purposes and form labels.

One source of truth: everything else (API, web pages, prompts, keyword import) reads it from here.
"""
