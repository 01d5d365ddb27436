#!/bin/sh
# Builds and runs one integration test project (called by ./build.sh test):
#   tests/integration/run.sh subdirectory|find_package|pkg-config WORKDIR
# Every mode starts from an empty WORKDIR/MODE; the program built is app/main.c + app/impl.c.
set -eu
mode=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$2/$mode
rm -rf "$work"
mkdir -p "$work"
cmake_build() {   # cmake_build SOURCE BUILD [CONFIGURE ARGS...]
    src=$1 bin=$2; shift 2
    cmake -S "$src" -B "$bin" -DCMAKE_BUILD_TYPE=Release "$@"
    cmake --build "$bin"
}

case $mode in
subdirectory)
    cmake_build "$here/subdirectory" "$work/build"
    "$work/build/app"
    ;;
find_package)
    # Install twice, with build.sh (no cmake) and with cmake --install: the same files.
    "$root/build.sh" install "$work/staged"
    cmake -S "$root" -B "$work/self" -DNNOPT_BUILD_EXAMPLES=OFF
    cmake --install "$work/self" --prefix "$work/staged-cmake"
    diff -r -x nnopt.pc "$work/staged" "$work/staged-cmake"
    pc=share/pkgconfig/nnopt.pc   # the same but for the prefix it names
    [ "$(grep -v '^prefix=' "$work/staged/$pc")" = "$(grep -v '^prefix=' "$work/staged-cmake/$pc")" ]
    # The CMake package is relocatable: move the installation before using it.
    mv "$work/staged" "$work/prefix"
    cmake_build "$here/find_package" "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix"
    "$work/build/app"
    # A version the installation cannot satisfy is refused.
    if cmake -S "$here/find_package" -B "$work/too-new" -DCMAKE_PREFIX_PATH="$work/prefix" \
        -DNNOPT_REQUEST=0.3 >"$work/too-new.log" 2>&1; then
        echo "find_package(nnopt 0.3) accepted version 0.2"; exit 1
    fi
    grep -q 'with requested version "0.3"' "$work/too-new.log"   # refused for its version
    ;;
pkg-config)
    "$root/build.sh" install "$work/prefix"
    PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" make -C "$here/pkg-config" OUT="$work"
    "$work/app"
    ;;
*)
    echo "usage: $0 subdirectory|find_package|pkg-config WORKDIR" >&2; exit 2 ;;
esac
echo "integration $mode: ok"
