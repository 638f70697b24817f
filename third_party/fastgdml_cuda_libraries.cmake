# cuBLAS and cuSOLVER for the CUDA backend. Looked for, in order:
#   -DFASTGDML_CUDA_LIBRARY_ROOT=<folder with include/ and lib/>;
#   the PyPI wheels in the Python environment of the build (nvidia-cublas, nvidia-cusolver: site-packages/nvidia/cu13,
#   versioned sonames only), which a `pip install --no-build-isolation` or a plain cmake build sees;
#   the CUDA toolkit's own folders.
# Sets FASTGDML_CUDA_LIBRARIES_FOUND, FASTGDML_CUDA_LIBRARY_INCLUDE_DIRS, FASTGDML_CUDA_LIBRARY_DIR and the
# imported targets fastgdml::cublas, fastgdml::cusolver.
set(FASTGDML_CUDA_LIBRARY_ROOT "" CACHE PATH "Folder with include/ and lib/ of cuBLAS and cuSOLVER (optional)")

set(_fastgdml_cuda_hints)
if(FASTGDML_CUDA_LIBRARY_ROOT)
  list(APPEND _fastgdml_cuda_hints ${FASTGDML_CUDA_LIBRARY_ROOT})
endif()
execute_process(
  COMMAND ${Python_EXECUTABLE} -c
    "import os, nvidia; print(';'.join(os.path.join(p, 'cu13') for p in nvidia.__path__))"
  OUTPUT_VARIABLE _fastgdml_wheel_roots OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _fastgdml_rc)
if(_fastgdml_rc EQUAL 0 AND _fastgdml_wheel_roots)
  list(APPEND _fastgdml_cuda_hints ${_fastgdml_wheel_roots})
endif()
if(CUDAToolkit_LIBRARY_ROOT)
  list(APPEND _fastgdml_cuda_hints ${CUDAToolkit_LIBRARY_ROOT})
endif()

find_path(FASTGDML_CUBLAS_INCLUDE_DIR cublas_v2.h HINTS ${_fastgdml_cuda_hints} PATH_SUFFIXES include
          NO_DEFAULT_PATH)
find_path(FASTGDML_CUSOLVER_INCLUDE_DIR cusolverDn.h HINTS ${_fastgdml_cuda_hints} PATH_SUFFIXES include
          NO_DEFAULT_PATH)
find_library(FASTGDML_CUBLAS_LIBRARY NAMES libcublas.so.13 cublas HINTS ${_fastgdml_cuda_hints}
             PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)
find_library(FASTGDML_CUSOLVER_LIBRARY NAMES libcusolver.so.12 cusolver HINTS ${_fastgdml_cuda_hints}
             PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)

if(FASTGDML_CUBLAS_INCLUDE_DIR AND FASTGDML_CUSOLVER_INCLUDE_DIR AND FASTGDML_CUBLAS_LIBRARY AND
   FASTGDML_CUSOLVER_LIBRARY)
  set(FASTGDML_CUDA_LIBRARIES_FOUND TRUE)
  set(FASTGDML_CUDA_LIBRARY_INCLUDE_DIRS ${FASTGDML_CUBLAS_INCLUDE_DIR} ${FASTGDML_CUSOLVER_INCLUDE_DIR})
  list(REMOVE_DUPLICATES FASTGDML_CUDA_LIBRARY_INCLUDE_DIRS)
  get_filename_component(FASTGDML_CUDA_LIBRARY_DIR ${FASTGDML_CUBLAS_LIBRARY} DIRECTORY)
  foreach(lib cublas cusolver)
    string(TOUPPER ${lib} LIB)
    add_library(fastgdml::${lib} SHARED IMPORTED)
    set_target_properties(fastgdml::${lib} PROPERTIES IMPORTED_LOCATION ${FASTGDML_${LIB}_LIBRARY}
                          IMPORTED_NO_SONAME FALSE)
  endforeach()
  message(STATUS "fastgdml: cuBLAS ${FASTGDML_CUBLAS_LIBRARY}, cuSOLVER ${FASTGDML_CUSOLVER_LIBRARY}")
else()
  set(FASTGDML_CUDA_LIBRARIES_FOUND FALSE)
endif()
