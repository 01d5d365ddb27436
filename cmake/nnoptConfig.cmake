# find_package(nnopt) for an installed nnopt: defines the INTERFACE target nnopt::nnopt.
#
#   find_package(nnopt 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE nnopt::nnopt)
#
# Then, in exactly ONE source file of the program:
#   #define NNOPT_IMPLEMENTATION
#   #include <nnopt.h>
# and a plain #include <nnopt.h> everywhere else.
#
# Installed as PREFIX/share/cmake/nnopt/nnoptConfig.cmake; the header is PREFIX/include/nnopt.h.
# The prefix is found from this file's own location, so the installation can be moved.
get_filename_component(_nnopt_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT EXISTS "${_nnopt_prefix}/include/nnopt.h")
    set(nnopt_FOUND FALSE)
    set(nnopt_NOT_FOUND_MESSAGE "nnopt.h is not at ${_nnopt_prefix}/include/nnopt.h")
    return()
endif()

if(NOT TARGET nnopt::nnopt)
    add_library(nnopt::nnopt INTERFACE IMPORTED)
    set_target_properties(nnopt::nnopt PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${_nnopt_prefix}/include")
    if(UNIX)
        # sqrt, exp, cos... used by the implementation unit
        set_property(TARGET nnopt::nnopt PROPERTY INTERFACE_LINK_LIBRARIES m)
    endif()
endif()

set(nnopt_INCLUDE_DIR "${_nnopt_prefix}/include")
unset(_nnopt_prefix)
