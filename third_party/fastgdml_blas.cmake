# Locates BLAS/LAPACK for the core and defines the target fastgdml::blas.
#
# FASTGDML_BLAS=scipy-openblas (default): the PyPI wheel `scipy-openblas32` (a build requirement and a runtime
#   dependency). Its libscipy_openblas.so exports CBLAS/LAPACK with a `scipy_` prefix, so it never clashes with
#   the OpenBLAS copies inside numpy/scipy. The extension finds it at run time through an RPATH to the wheel's
#   lib/ (both live in the same site-packages), and fastgdml/__init__.py preloads it by absolute path in case
#   they don't.
# FASTGDML_BLAS=system: any CBLAS + LAPACK found by CMake (standalone binaries, LAMMPS plugin).
if(FASTGDML_BLAS STREQUAL "scipy-openblas")
  execute_process(
    COMMAND ${Python_EXECUTABLE} -c "import scipy_openblas32 as s; print(s.get_lib_dir()); print(s.get_include_dir())"
    OUTPUT_VARIABLE _fastgdml_ob OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _fastgdml_ob_rc)
  if(NOT _fastgdml_ob_rc EQUAL 0)
    message(FATAL_ERROR "FASTGDML_BLAS=scipy-openblas needs the PyPI package scipy-openblas32 "
                        "(pip install scipy-openblas32), or configure with -DFASTGDML_BLAS=system")
  endif()
  string(REPLACE "\n" ";" _fastgdml_ob "${_fastgdml_ob}")
  list(GET _fastgdml_ob 0 FASTGDML_OPENBLAS_LIB_DIR)
  find_library(FASTGDML_OPENBLAS_LIBRARY NAMES scipy_openblas PATHS ${FASTGDML_OPENBLAS_LIB_DIR} NO_DEFAULT_PATH REQUIRED)
  add_library(fastgdml_blas INTERFACE)
  target_link_libraries(fastgdml_blas INTERFACE ${FASTGDML_OPENBLAS_LIBRARY})
  target_compile_definitions(fastgdml_blas INTERFACE FASTGDML_BLAS_PREFIX=scipy_ FASTGDML_OPENBLAS
                             FASTGDML_BLAS_NAME_STR="scipy-openblas32")
  message(STATUS "fastgdml: BLAS/LAPACK from scipy-openblas32 (${FASTGDML_OPENBLAS_LIBRARY})")
elseif(FASTGDML_BLAS STREQUAL "system")
  find_package(BLAS REQUIRED)
  find_package(LAPACK REQUIRED)
  add_library(fastgdml_blas INTERFACE)
  target_link_libraries(fastgdml_blas INTERFACE ${LAPACK_LIBRARIES} ${BLAS_LIBRARIES})
  message(STATUS "fastgdml: system BLAS/LAPACK (${BLAS_LIBRARIES})")
else()
  message(FATAL_ERROR "FASTGDML_BLAS must be scipy-openblas or system, got '${FASTGDML_BLAS}'")
endif()
add_library(fastgdml::blas ALIAS fastgdml_blas)

# Installed extension modules find the wheel's library next door in site-packages.
function(fastgdml_blas_runtime_rpath target)
  if(FASTGDML_BLAS STREQUAL "scipy-openblas")
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/../scipy_openblas32/lib"
                                               BUILD_RPATH "${FASTGDML_OPENBLAS_LIB_DIR}")
  endif()
endfunction()
