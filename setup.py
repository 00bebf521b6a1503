"""Build of evlog's two optional C extensions (the rest is in pyproject.toml).

- `evlog.segments._speedups`: the storage engine's block columns and row checks
  (evlog/segments/block.py and rows.py hold their Python twins);
- `evlog._snapshot`: the recorder's snapshot at publish of a pydantic event
  (evlog/snapshot.py holds its Python twin).

Both are optional: where they cannot be built (no C compiler), the install goes on and the
Python twins run; tests run the same inputs through both.
"""
import os

from setuptools import Extension, setup

ext_modules = []
if os.name == "posix" and not os.environ.get("EVLOG_NO_EXTENSIONS"):
    ext_modules.append(Extension("evlog.segments._speedups", ["evlog/segments/_speedups.c"], optional=True))
    ext_modules.append(Extension("evlog._snapshot", ["evlog/_snapshot.c"], optional=True))

setup(ext_modules=ext_modules)
