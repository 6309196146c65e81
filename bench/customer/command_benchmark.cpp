// CPU per order of the customer service's part of a purchase, in the service and in its
// PostgreSQL backend, with no broker in between: the commands one order sends (two basket lines,
// validate, and record_order, which empties the basket too, as the mediator sends them: the
// workflow's steps under idempotency keys, the basket lines, which set a quantity, without one)
// through the real CommandHandler, one after another on one connection. --separate-clear sends
// purchase v3's shape instead: record_order, then clear_basket as a command of its own.
//
//   build/bench/customer/command_benchmark --url postgresql://127.0.0.1:5432/wonderland
//                                          [--separate-clear]
//
// The backend's CPU is read from /proc, so PostgreSQL must run on this machine. The schema is
// created for the run and dropped afterwards.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <pqxx/pqxx>
#include <string>

#include "handler.hpp"
#include "migrations.hpp"
#include "wonderland/bench/process.hpp"
#include "wonderland/common/env.hpp"
#include "wonderland/common/ids.hpp"
#include "wonderland/customer/password.hpp"

namespace {

using nlohmann::json;
using wonderland::Result;
using wonderland::messaging::Envelope;

Envelope command(const std::string& type, json body, const std::string& key = "") {
  Envelope e = Envelope::make(type, std::move(body), "command_benchmark");
  e.idempotency_key = key;
  return e;
}

void check(const Result<json>& r, const char* what) {
  if (!r.ok())
    throw std::runtime_error(std::string(what) + ": " + r.error().message);
}

/// One order's commands, as the bookstore's customer and the purchase workflow send them.
void one_order(wonderland::customer::CommandHandler& handler, const std::string& customer_id,
               bool separate_clear) {
  const std::string order_id = wonderland::new_uuid();
  for (const char* isbn : {"9781942788812", "9781942788331"}) {
    check(handler.handle(
              command("customer.set_basket_item",
                      json{{"customer_id", customer_id}, {"isbn", isbn}, {"quantity", 1}})),
          "set_basket_item");
  }
  check(handler.handle(command("customer.validate", json{{"customer_id", customer_id}})),
        "validate");
  json items = json::array({{{"isbn", "9781942788812"},
                             {"title", "Team Topologies"},
                             {"quantity", 1},
                             {"unit_price_cents", 3499},
                             {"line_total_cents", 3499}}});
  json record{{"customer_id", customer_id},
              {"order_id", order_id},
              {"items", items},
              {"total_cents", 3499},
              {"status", "confirmed"}};
  if (!separate_clear)
    record["clear_basket"] = true;
  check(handler.handle(command("customer.record_order", record, order_id + ":record_order")),
        "record_order");
  if (separate_clear) {
    check(handler.handle(command("customer.clear_basket",
                                 json{{"customer_id", customer_id}, {"order_id", order_id}},
                                 order_id + ":clear_basket")),
          "clear_basket");
  }
}

/// Runs a warm-up round and `rounds` measured rounds of `orders` orders; prints one line each.
void measure(wonderland::customer::CommandHandler& handler, const std::string& customer_id,
             int orders, int rounds, bool separate_clear, const std::string& schema) {
  const int backend = handler.database().connection().backendpid();
  std::printf("%d orders per round (%d commands each), one connection, schema %s\n", orders,
              separate_clear ? 5 : 4, schema.c_str());
  std::printf("%-8s %10s %14s %14s %14s\n", "round", "orders/s", "service ms/ord",
              "postgres ms/ord", "total ms/ord");
  for (int round = 0; round <= rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    const double own0 = wonderland::bench::own_cpu_seconds();
    const double pg0 = wonderland::bench::process_cpu_seconds(backend);
    for (int i = 0; i < orders; ++i)
      one_order(handler, customer_id, separate_clear);
    const double own = (wonderland::bench::own_cpu_seconds() - own0) * 1000 / orders;
    const double pg = (wonderland::bench::process_cpu_seconds(backend) - pg0) * 1000 / orders;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-8s %10.0f %14.3f %14.3f %14.3f\n",
                round == 0 ? "warm-up" : std::to_string(round).c_str(), orders / seconds, own, pg,
                own + pg);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU per order of the customer service's commands and its PostgreSQL backend"};
  std::string url =
      wonderland::env::get("WONDERLAND_PG_URL", "postgresql://127.0.0.1:5432/wonderland");
  int orders = 3000;
  int rounds = 3;
  bool separate_clear = false;
  app.add_option("--url", url, "PostgreSQL on this machine (default: WONDERLAND_PG_URL)");
  app.add_option("--orders", orders, "orders per round")->check(CLI::Range(1, 10000000));
  app.add_option("--rounds", rounds, "measured rounds, after one warm-up round")
      ->check(CLI::Range(1, 100));
  app.add_flag("--separate-clear", separate_clear,
               "purchase v3's commands: clear_basket after record_order instead of with it");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  const std::string schema = "bench_customer_" + wonderland::random_hex(8);
  {
    pqxx::connection admin(url);
    pqxx::nontransaction tx(admin);
    tx.exec0("CREATE SCHEMA " + tx.quote_name(schema));
  }
  int status = 0;
  try {
    wonderland::customer::StoreOptions options;
    options.password = wonderland::customer::PasswordPolicy::for_tests();
    wonderland::customer::CommandHandler handler(url, schema, options);
    wonderland::customer::migrate(handler.database());
    auto signed_up = handler.handle(command("customer.sign_up",
                                            json{{"username", "bench"},
                                                 {"email", "bench@example.com"},
                                                 {"password", "correct horse battery"},
                                                 {"first_name", "Bench"},
                                                 {"last_name", "Mark"}},
                                            wonderland::new_uuid()));
    check(signed_up, "sign_up");
    const std::string customer_id = signed_up.value().at("customer_id").get<std::string>();

    measure(handler, customer_id, orders, rounds, separate_clear, schema);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "command_benchmark: %s\n", e.what());
    status = 1;
  }
  pqxx::connection admin(url);
  pqxx::nontransaction tx(admin);
  tx.exec0("DROP SCHEMA " + tx.quote_name(schema) + " CASCADE");
  return status;
}
