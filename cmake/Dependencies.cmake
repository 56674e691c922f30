# Every dependency comes from the system (Debian 12 packages installed by
# scripts/setup-deps.sh): no vendored copies, no downloads at configure time.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LibArchive REQUIRED IMPORTED_TARGET libarchive>=3.6)
pkg_check_modules(XXHash REQUIRED IMPORTED_TARGET libxxhash)
# The shared libxxhash of Debian 12 carries xxHash's x86 dispatcher (XXH3 with AVX2/AVX-512
# where the CPU has them: about twice the SSE2 build's speed); its static archive does not.
include(CheckSymbolExists)
include(CMakePushCheckState)
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_INCLUDES ${XXHash_INCLUDE_DIRS})
set(CMAKE_REQUIRED_LIBRARIES ${XXHash_LINK_LIBRARIES})
set(CMAKE_REQUIRED_QUIET ON)
check_symbol_exists(XXH3_128bits_update_dispatch "xxhash.h;xxh_x86dispatch.h"
                    RESTOREKIT_HAVE_XXH_DISPATCH)
cmake_pop_check_state()
find_package(SQLite3 REQUIRED)
find_package(ZLIB REQUIRED)
pkg_check_modules(Zstd REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(Lzma REQUIRED IMPORTED_TARGET liblzma)
pkg_check_modules(Utf8proc REQUIRED IMPORTED_TARGET libutf8proc)
# ISA-L's igzip: deflate decoding for gzip members (issue 14: about twice zlib's speed here).
pkg_check_modules(Isal REQUIRED IMPORTED_TARGET libisal)
# libpq: the catalog's PostgreSQL backend (a support team's shared catalog, issue 18). Only its
# header at build time: the library is loaded at run time by the first PostgreSQL catalog.
pkg_check_modules(Libpq REQUIRED libpq)
find_package(Threads REQUIRED)
find_package(tl-expected CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(tomlplusplus CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
# mstch (a C++ Mustache, escaping HTML by default): the triage report's templates.
find_package(mstch CONFIG REQUIRED)
if(RESTOREKIT_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  include(GoogleTest)
endif()
if(RESTOREKIT_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG REQUIRED)
endif()
