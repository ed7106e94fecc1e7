# The include layering, checked on every build (scripts/build runs it through the engine library):
#   engine/         includes nothing of server/ or tools/    (the storage engine stands alone)
#   server/domain/  includes nothing of server/http/ or tools/
#   tools/          includes nothing of server/http/         (orderlog-inspect: engine + domain)
# Usage: cmake -DSOURCE_DIR=<repo> -P cmake/CheckLayering.cmake
set(rules
  "engine|server/|tools/"
  "server/domain|server/http/|tools/"
  "tools|server/http/")
set(violations "")
foreach(rule IN LISTS rules)
  string(REPLACE "|" ";" parts "${rule}")
  list(POP_FRONT parts layer)
  file(GLOB_RECURSE files "${SOURCE_DIR}/${layer}/*.h" "${SOURCE_DIR}/${layer}/*.cc")
  foreach(file IN LISTS files)
    file(STRINGS "${file}" includes REGEX "^#include \"")
    foreach(line IN LISTS includes)
      foreach(forbidden IN LISTS parts)
        if(line MATCHES "^#include \"${forbidden}")
          file(RELATIVE_PATH rel "${SOURCE_DIR}" "${file}")
          string(APPEND violations "\n  ${rel}: ${line} (${layer}/ may not include ${forbidden})")
        endif()
      endforeach()
    endforeach()
  endforeach()
endforeach()
if(violations)
  message(FATAL_ERROR "include layering broken:${violations}")
endif()
