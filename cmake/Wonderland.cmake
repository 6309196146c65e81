# Project-wide compile settings and helpers shared by every component.

add_library(wonderland_warnings INTERFACE)
target_compile_options(wonderland_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                     -Wnon-virtual-dtor -Wno-missing-field-initializers)
if(WONDERLAND_WERROR)
  target_compile_options(wonderland_warnings INTERFACE -Werror)
endif()

if(WONDERLAND_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# wonderland_component(NAME <name> SOURCES ... DEPS ... PRIVATE_DEPS ...)
# Declares the library target wonderland_<name> for src/<name>; its public headers live in
# src/<name>/include/wonderland/<name>/.
function(wonderland_component)
  cmake_parse_arguments(C "" "NAME" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(wonderland_${C_NAME} STATIC ${C_SOURCES})
  add_library(wonderland::${C_NAME} ALIAS wonderland_${C_NAME})
  target_include_directories(wonderland_${C_NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                                  PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(wonderland_${C_NAME} PUBLIC ${C_DEPS} PRIVATE wonderland_warnings ${C_PRIVATE_DEPS})
endfunction()

# wonderland_allocator(<target>): the executable allocates with jemalloc (WONDERLAND_JEMALLOC).
# Its malloc and free come first in the link, so they replace the C library's for the whole
# process, the libraries it loads included.
function(wonderland_allocator target)
  if(WONDERLAND_JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()

# wonderland_binary(NAME <binary> SOURCES ... DEPS ...): a service or a benchmark, which
# measures code with the allocator the services run with.
function(wonderland_binary)
  cmake_parse_arguments(B "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${B_NAME} ${B_SOURCES})
  target_link_libraries(${B_NAME} PRIVATE wonderland_warnings ${B_DEPS})
  wonderland_allocator(${B_NAME})
endfunction()

# wonderland_test(NAME <name> SOURCES ... DEPS ... LABELS ... [TIMEOUT s] [SERIAL])
# Labels: unit (pure), rmq (needs RabbitMQ), pg (needs PostgreSQL), e2e (whole system), browser.
function(wonderland_test)
  cmake_parse_arguments(T "SERIAL" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE wonderland_warnings ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
  if(T_SERIAL)
    set_tests_properties(${T_NAME} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
