# Sourced by build.sh and sanitize.sh: sets `launcher` to the CMake flags that
# put ccache in front of the compilers, when ccache is installed.
#
# Without these settings ccache refuses every file that uses the precompiled
# LibTorch header (most of the build), and keys files by the clone's absolute
# path, so a second clone compiled everything again.
launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root"
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
  # Debug info (the sanitizer tree's line tables) otherwise keys every file by
  # its build folder, so that no other clone hits. The price: the compile
  # folder recorded in the debug info is the first clone's.
  export CCACHE_NOHASHDIR=1
fi
