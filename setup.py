"""Extension list and build switches; all metadata lives in pyproject.toml.

Switches (environment variables):
  SMPPFAST_DEBUG_BUILD=1     -O0 -g3, Cython bounds checks on
  SMPPFAST_CYTHON_TRACE=1    line tracing for coverage
  SMPPFAST_CYTHON_ANNOTATE=1 write the Cython HTML annotation next to each .pyx

The Cython directives live here only: a ``# cython:`` header line in a .pyx would override
them, and the debug build would silently keep its bounds checks off. Switching between a
debug and a release build in one tree regenerates the C (the last mode of each is kept in
build/smppfast-build-mode_*), so a stale C file of the other mode is never compiled.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from Cython.Build import cythonize
except ImportError:  # pragma: no cover - the build requirements include Cython
    sys.exit("smppfast: building from source needs Cython 3 (pip install 'Cython>=3.1,<3.4').")

DEBUG = os.environ.get("SMPPFAST_DEBUG_BUILD") == "1"
TRACE = os.environ.get("SMPPFAST_CYTHON_TRACE") == "1"
ANNOTATE = os.environ.get("SMPPFAST_CYTHON_ANNOTATE") == "1"
# Development aid: build only these extensions (comma-separated names, e.g. "_text").
ONLY = {n for n in os.environ.get("SMPPFAST_ONLY", "").split(",") if n}

if sys.platform == "win32":
    cflags = ["/O2"]
else:
    cflags = ["-std=c11", "-Wall", "-Wno-unused-function", "-Wno-unreachable-code"]
    cflags += ["-O0", "-g3"] if DEBUG else ["-O2"]

macros = [("CYTHON_TRACE_NOGIL", "1")] if TRACE else []


def ext(name, sources):
    return Extension(
        f"smppfast.{name}",
        [f"src/smppfast/{name}.pyx", *sources],
        include_dirs=["csrc"],
        extra_compile_args=cflags,
        define_macros=macros,
    )


MODE = f"debug={int(DEBUG)} trace={int(TRACE)}"


def cythonize_for_mode(extension):
    """cythonize one extension; regenerate its C if it was last generated for another mode."""
    stamp = os.path.join("build", f"smppfast-build-mode{extension.name.split('.')[-1]}")
    try:
        with open(stamp, encoding="ascii") as f:
            changed = f.read() != MODE
    except OSError:
        changed = True  # no record: the C in the tree may be of either mode
    [result] = cythonize([extension], compiler_directives=directives, annotate=ANNOTATE, force=changed)
    os.makedirs("build", exist_ok=True)
    with open(stamp, "w", encoding="ascii") as f:
        f.write(MODE)
    return result


directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "embedsignature": True,
    "linetrace": TRACE,
}

class BuildExt(build_ext):
    """Turn a compiler failure into one clear sentence instead of a bare gcc error."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # CCompilerError, DistutilsExecError, CompileError, OSError
            sys.stderr.write(
                f"\nsmppfast: building the compiled core ({ext.name}) failed: {exc}\n"
                "smppfast needs a C compiler and the Python headers to build from source\n"
                "(Debian/Ubuntu: apt-get install build-essential python3-dev;\n"
                " macOS: xcode-select --install; Windows: Visual Studio Build Tools),\n"
                "or install a prebuilt wheel.\n"
            )
            raise


setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=[
        cythonize_for_mode(e)
        for e in (
            ext("_codec", []),
            ext("_window", []),
            ext("_futures", []),
            ext("_memstore", []),
            ext("_text", ["csrc/gsm0338.c", "csrc/gsm0338_national.c"]),
        )
        if not ONLY or e.name.split(".")[-1] in ONLY
    ],
)
