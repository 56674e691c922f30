# What `cmake --install` adds beside the libraries and headers (cmake/Settings.cmake): the
# restorekit executable, the CMake package (restorekit-config.cmake with components, its version
# file and the exported targets), restorekit.pc (C++) and restorekit-c.pc (C) for pkg-config, and
# the Debian package (cpack -G DEB).
include(CMakePackageConfigHelpers)
set(RESTOREKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/restorekit)

install(TARGETS restorekit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(EXPORT restorekit-targets NAMESPACE restorekit:: DESTINATION ${RESTOREKIT_CMAKE_DIR})
configure_package_config_file(cmake/restorekit-config.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/restorekit-config.cmake
                              INSTALL_DESTINATION ${RESTOREKIT_CMAKE_DIR})
# 0.x: a new minor version may change the API (CHANGELOG.md), so only the same minor matches.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/restorekit-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/restorekit-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/restorekit-config-version.cmake
        DESTINATION ${RESTOREKIT_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place, so the tree can be moved.
file(RELATIVE_PATH RESTOREKIT_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
foreach(pc restorekit restorekit-c)
  configure_file(cmake/${pc}.pc.in ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# The Debian package: `cpack -G DEB` in a build folder makes restorekit_<version>_<arch>.deb with
# everything above under /usr; dpkg-shlibdeps derives its runtime dependencies (libarchive13,
# libsqlite3-0, ...) from the binaries, so `apt-get install ./restorekit_*.deb` pulls them.
set(CPACK_PACKAGE_NAME restorekit)
set(CPACK_PACKAGE_VENDOR restorekit)
set(CPACK_PACKAGE_CONTACT "restorekit developers <restorekit@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Inspect, verify, diff and safely restore application backups (tool, C and C++ libraries)")
set(CPACK_PACKAGE_DESCRIPTION
    "restorekit tells, before a live system is overwritten by a backup, what is in the backup, \
whether every byte of it is intact and what a restore would change, then restores atomically \
with a safety snapshot. The package holds the restorekit command, the C++ libraries (static and \
shared), the C API (restorekit.h, librestorekit_c.so), a CMake package and pkg-config files.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # a shlibs file and an ldconfig trigger
# Building against the headers and static libraries needs the dependencies' -dev packages.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "libarchive-dev, libsqlite3-dev, libxxhash-dev, libzstd-dev, liblzma-dev, libutf8proc-dev, \
libisal-dev, libfmt-dev, libtomlplusplus-dev, nlohmann-json3-dev, libexpected-dev, pkg-config")
# A PostgreSQL catalog (--catalog postgresql://...) loads libpq at run time.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpq5")
include(CPack)
