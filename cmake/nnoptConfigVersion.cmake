# Version check for find_package(nnopt VERSION). The version is read from the installed header
# (NNOPT_VERSION_STRING), so this file never goes stale.
#
# Compatibility: the same major version and at least the requested version; while the major
# version is 0, the minor version must match too (0.x releases may change the API).
get_filename_component(_nnopt_header "${CMAKE_CURRENT_LIST_DIR}/../../../include/nnopt.h" ABSOLUTE)
set(PACKAGE_VERSION "")
if(EXISTS "${_nnopt_header}")
    file(STRINGS "${_nnopt_header}" _nnopt_line
         REGEX "^#define NNOPT_VERSION_STRING \"[0-9]+\\.[0-9]+\\.[0-9]+\"")
    string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" PACKAGE_VERSION "${_nnopt_line}")
endif()

if(PACKAGE_VERSION STREQUAL "")
    set(PACKAGE_VERSION "unknown")
    set(PACKAGE_VERSION_UNSUITABLE TRUE)
elseif(NOT DEFINED PACKAGE_FIND_VERSION OR PACKAGE_FIND_VERSION STREQUAL "")
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
else()
    string(REPLACE "." ";" _nnopt_parts "${PACKAGE_VERSION}")
    list(GET _nnopt_parts 0 _nnopt_major)
    list(GET _nnopt_parts 1 _nnopt_minor)
    if(PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION
       OR NOT _nnopt_major EQUAL PACKAGE_FIND_VERSION_MAJOR
       OR (_nnopt_major EQUAL 0 AND NOT _nnopt_minor EQUAL PACKAGE_FIND_VERSION_MINOR))
        set(PACKAGE_VERSION_COMPATIBLE FALSE)
    else()
        set(PACKAGE_VERSION_COMPATIBLE TRUE)
        if(PACKAGE_VERSION VERSION_EQUAL PACKAGE_FIND_VERSION)
            set(PACKAGE_VERSION_EXACT TRUE)
        endif()
    endif()
endif()
unset(_nnopt_header)
unset(_nnopt_line)
unset(_nnopt_parts)
unset(_nnopt_major)
unset(_nnopt_minor)
