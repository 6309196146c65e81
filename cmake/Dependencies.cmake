# Every dependency comes from Debian 12 packages (scripts/deps.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS system)
find_package(nlohmann_json 3 REQUIRED)
find_package(simdjson 3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL 3 REQUIRED)
# Tests and benchmarks only: an image build (deploy/app/Dockerfile) has neither.
if(WONDERLAND_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(WONDERLAND_BUILD_BENCHMARKS)
  find_package(benchmark QUIET)
endif()

pkg_check_modules(RABBITMQ REQUIRED IMPORTED_TARGET librabbitmq)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

find_library(HPDF_LIBRARY NAMES hpdf REQUIRED)
find_path(HPDF_INCLUDE_DIR NAMES hpdf.h REQUIRED)
add_library(hpdf::hpdf UNKNOWN IMPORTED)
set_target_properties(hpdf::hpdf PROPERTIES IMPORTED_LOCATION ${HPDF_LIBRARY}
                                            INTERFACE_INCLUDE_DIRECTORIES ${HPDF_INCLUDE_DIR})
