# The installed package: one static library, libsx.a, holding the
# interpreter, the store, the stdlib and the host's ops (the objects of
# sx_interp, sx_store, sx_backend, sx_pg, sx_stdlib and sx_host), the public headers
# include/sx/*.h, the `sx` command, a CMake package (find_package(sx) gives
# the imported target sx::sx) and a pkg-config file (sx.pc).
#
# A program links only the objects it uses: an embedder of the interpreter
# and the durable store pulls in neither the REPL nor libedit. What every
# consumer needs beside libsx.a (Boost.Context, fmt, libcrypto, libpq, threads) is carried by
# sx::sx and by sx.pc's Libs and Requires. docs/embedding.md shows both, and
# scripts/embed_test.sh (ctest: embed.install) builds an example against an
# installed copy.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(sx_embed STATIC
  $<TARGET_OBJECTS:sx_interp>
  $<TARGET_OBJECTS:sx_store>
  $<TARGET_OBJECTS:sx_backend>
  $<TARGET_OBJECTS:sx_pg>
  $<TARGET_OBJECTS:sx_stdlib>
  $<TARGET_OBJECTS:sx_host>)
add_library(sx::sx ALIAS sx_embed)
set_target_properties(sx_embed PROPERTIES
  OUTPUT_NAME sx
  EXPORT_NAME sx
  LINKER_LANGUAGE CXX
  ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
target_include_directories(sx_embed INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(sx_embed INTERFACE cxx_std_20)
target_link_libraries(sx_embed INTERFACE
  $<LINK_ONLY:Boost::context> $<LINK_ONLY:fmt::fmt> $<LINK_ONLY:OpenSSL::Crypto>
  $<LINK_ONLY:Threads::Threads> $<LINK_ONLY:pq>)
# A library built with sanitizers needs their runtimes in every program that
# links it.
if(SX_SANITIZE)
  target_link_options(sx_embed INTERFACE -fsanitize=${_sx_san})
endif()

install(TARGETS sx RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS sx_embed EXPORT sxTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sx DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

set(SX_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sx)
install(EXPORT sxTargets NAMESPACE sx:: DESTINATION ${SX_CMAKE_DIR})
set(SX_BOOST_MIN_VERSION 1.74)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sxConfig.cmake.in
  ${CMAKE_BINARY_DIR}/sxConfig.cmake INSTALL_DESTINATION ${SX_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sxConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/sxConfig.cmake ${CMAKE_BINARY_DIR}/sxConfigVersion.cmake
        DESTINATION ${SX_CMAKE_DIR})

# sx.pc finds its prefix from where it lies (${pcfiledir}), so the installed
# tree can move. libsx.a is static: its dependencies go in Libs and Requires,
# not in the .private fields that only `pkg-config --static` reads.
file(RELATIVE_PATH SX_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" SX_PC_TO_PREFIX "${SX_PC_TO_PREFIX}")
set(SX_PC_LIBS "-lsx")
# Boost.Context gets a -L of its own unless it lies where the compiler looks.
get_target_property(_sx_boost_configs Boost::context IMPORTED_CONFIGURATIONS)
set(_sx_boost_context "")
foreach(config IN LISTS _sx_boost_configs)
  get_target_property(_sx_boost_context Boost::context IMPORTED_LOCATION_${config})
  if(_sx_boost_context)
    break()
  endif()
endforeach()
if(NOT _sx_boost_context)
  get_target_property(_sx_boost_context Boost::context IMPORTED_LOCATION)
endif()
if(_sx_boost_context)
  get_filename_component(_sx_boost_dir ${_sx_boost_context} DIRECTORY)
  if(NOT _sx_boost_dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
    string(APPEND SX_PC_LIBS " -L${_sx_boost_dir}")
  endif()
endif()
string(APPEND SX_PC_LIBS " -lboost_context -pthread")
if(SX_SANITIZE)
  string(APPEND SX_PC_LIBS " -fsanitize=${_sx_san}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/sx.pc.in ${CMAKE_BINARY_DIR}/sx.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/sx.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
