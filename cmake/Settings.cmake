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

# restorekit_add_library(<module> SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...): one module
# folder, public headers under include/ and private sources under src/, compiled once (position
# independent, hidden visibility: the public headers give their declarations default visibility)
# into two libraries, both installed with the headers:
#   restorekit::<module>         static (what the executable, the tests and most consumers link)
#   restorekit::<module>_shared  librestorekit_<module>.so.MAJOR.MINOR, exporting only the API
# The target restorekit_<module>_objects takes module-private compile settings.
include(GNUInstallDirs)
set(RESTOREKIT_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
function(restorekit_add_library module)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(objects restorekit_${module}_objects)
  add_library(${objects} OBJECT ${ARG_SOURCES})
  set_target_properties(${objects} PROPERTIES POSITION_INDEPENDENT_CODE ON
                        CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_include_directories(${objects} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                             PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${objects} PUBLIC ${ARG_PUBLIC_DEPS}
                        PRIVATE ${ARG_PRIVATE_DEPS} restorekit_settings restorekit_warnings)
  # Position-independent code without the cost of symbol interposition: calls inside a library
  # stay direct and inlinable, as in the executable before the libraries were shared.
  target_compile_options(${objects} PRIVATE -fno-semantic-interposition)

  # The shared library links the other modules' shared libraries.
  list(TRANSFORM ARG_PUBLIC_DEPS REPLACE "^(restorekit::[a-z]+)$" "\\1_shared"
       OUTPUT_VARIABLE shared_public)
  list(TRANSFORM ARG_PRIVATE_DEPS REPLACE "^(restorekit::[a-z]+)$" "\\1_shared"
       OUTPUT_VARIABLE shared_private)
  foreach(kind STATIC SHARED)
    set(target restorekit_${module})
    set(public ${ARG_PUBLIC_DEPS})
    set(private ${ARG_PRIVATE_DEPS})
    if(kind STREQUAL "SHARED")
      set(target restorekit_${module}_shared)
      set(public ${shared_public})
      set(private ${shared_private})
    endif()
    add_library(${target} ${kind} $<TARGET_OBJECTS:${objects}>)
    string(REPLACE "restorekit_" "" export_name ${target})
    add_library(restorekit::${export_name} ALIAS ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name}
                          OUTPUT_NAME restorekit_${module})
    target_include_directories(${target}
                               PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
                                      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    # The build settings stay in the build: an installed library asks nothing of its consumers.
    target_link_libraries(${target} PUBLIC ${public}
                          PRIVATE ${private} $<BUILD_INTERFACE:restorekit_settings>)
    install(TARGETS ${target} EXPORT restorekit-targets
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
            LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development)
  endforeach()
  set_target_properties(restorekit_${module}_shared PROPERTIES VERSION ${PROJECT_VERSION}
                        SOVERSION ${RESTOREKIT_SOVERSION})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
