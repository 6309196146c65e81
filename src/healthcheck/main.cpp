// wonderland-healthcheck [--timeout-ms N] [--http URL]... [QUEUE]...: a container health
// command (see healthcheck.hpp and `--help`).
#include <iostream>

#include "wonderland/healthcheck/healthcheck.hpp"

int main(int argc, char** argv) {
  return wonderland::healthcheck::run(argc, argv, std::cout, std::cerr);
}
