"""Load the h2clientspec pytest plugin for every run from this checkout."""
pytest_plugins = ["conformance.plugin"]
