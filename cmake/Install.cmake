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
