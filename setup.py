"""Build of evlog's one optional C extension (the rest is in pyproject.toml).

`evlog.segments._speedups` is the writer's append hot path compiled. It is optional: where it
cannot be built (no C compiler, a platform without clock_gettime), the install goes on and
the writer uses the Python closure of the same logic (evlog/segments/writer.py).
"""
import os

from setuptools import Extension, setup

ext_modules = []
if os.name == "posix" and not os.environ.get("EVLOG_NO_EXTENSIONS"):
    ext_modules.append(Extension("evlog.segments._speedups", ["evlog/segments/_speedups.c"], optional=True))

setup(ext_modules=ext_modules)
