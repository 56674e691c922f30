# Compiler settings as INTERFACE targets, linked PRIVATE into every target (STYLE.md: no edits
# of CMAKE_CXX_FLAGS).
add_library(restorekit_settings INTERFACE)
target_compile_features(restorekit_settings INTERFACE cxx_std_20)
target_compile_definitions(restorekit_settings INTERFACE _FILE_OFFSET_BITS=64)
if(RESTOREKIT_ENABLE_ASAN)
  target_compile_options(restorekit_settings INTERFACE -fsanitize=address -fno-omit-frame-pointer)
  target_link_options(restorekit_settings INTERFACE -fsanitize=address)
endif()
if(RESTOREKIT_ENABLE_UBSAN)
  target_compile_options(restorekit_settings INTERFACE -fsanitize=undefined -fno-sanitize-recover=undefined)
  target_link_options(restorekit_settings INTERFACE -fsanitize=undefined)
endif()
if(RESTOREKIT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "RESTOREKIT_FUZZ needs clang (use the fuzz preset)")
  endif()
  target_compile_options(restorekit_settings INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
  target_link_options(restorekit_settings INTERFACE -fsanitize=address,undefined)
endif()

add_library(restorekit_warnings INTERFACE)
target_compile_options(restorekit_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                       -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
                       -Wimplicit-fallthrough)
if(RESTOREKIT_WARNINGS_AS_ERRORS)
  target_compile_options(restorekit_warnings INTERFACE -Werror)
endif()

# restorekit_add_library(<module> SOURCES ... DEPS ...): one library per module folder with
# public headers under include/ and private sources under src/. Each is installed with its
# headers and exported as restorekit::<module> (cmake/restorekit-config.cmake.in).
include(GNUInstallDirs)
function(restorekit_add_library module)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(restorekit_${module} ${ARG_SOURCES})
  add_library(restorekit::${module} ALIAS restorekit_${module})
  set_target_properties(restorekit_${module} PROPERTIES EXPORT_NAME ${module})
  target_include_directories(restorekit_${module}
                             PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
                                    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
                             PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  # The build settings stay in the build: an installed library asks nothing of its consumers.
  target_link_libraries(restorekit_${module} PUBLIC ${ARG_PUBLIC_DEPS}
                        PRIVATE ${ARG_PRIVATE_DEPS} $<BUILD_INTERFACE:restorekit_settings>
                                $<BUILD_INTERFACE:restorekit_warnings>)
  install(TARGETS restorekit_${module} EXPORT restorekit-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
