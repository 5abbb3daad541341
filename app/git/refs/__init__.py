"""Refs of the files backend: names, loose files, ``packed-refs`` and the snapshot store."""
