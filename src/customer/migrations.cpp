#include "migrations.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <thread>

#include "wonderland/log/log.hpp"

namespace wonderland::customer {

namespace {

/// Migration 1: customers and their addresses, sessions, baskets, orders, idempotency keys and
/// the outbox.
constexpr const char* kInitialSchema = R"sql(
CREATE TABLE IF NOT EXISTS customers (
  id            uuid PRIMARY KEY,
  username      text NOT NULL,
  email         text NOT NULL,
  password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
  first_name    text NOT NULL,
  last_name     text NOT NULL,
  phone         text,
  created_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS customers_username_key ON customers (lower(username));
CREATE UNIQUE INDEX IF NOT EXISTS customers_email_key ON customers (lower(email));

CREATE TABLE IF NOT EXISTS addresses (
  id          bigserial PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  line1       text NOT NULL,
  line2       text,
  city        text NOT NULL,
  postal_code text NOT NULL,
  country     text NOT NULL,
  created_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS addresses_by_customer ON addresses (customer_id, id);

CREATE TABLE IF NOT EXISTS sessions (
  token_sha256 text PRIMARY KEY,
  customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_customer ON sessions (customer_id, expires_at);

CREATE TABLE IF NOT EXISTS basket_items (
  customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  isbn        text NOT NULL,
  quantity    integer NOT NULL CHECK (quantity BETWEEN 1 AND 3),
  added_at    timestamptz NOT NULL,
  PRIMARY KEY (customer_id, isbn)
);

CREATE TABLE IF NOT EXISTS basket_clears (
  order_id    uuid PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  cleared_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
  order_id    uuid PRIMARY KEY,
  seq         bigserial NOT NULL,
  customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  items       jsonb NOT NULL,
  total_cents bigint NOT NULL CHECK (total_cents >= 0),
  status      text NOT NULL,
  created_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, created_at DESC, seq DESC);

CREATE TABLE IF NOT EXISTS idempotency (
  key        text PRIMARY KEY,
  reply      jsonb,
  error      jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((reply IS NULL) <> (error IS NULL))
);

CREATE TABLE IF NOT EXISTS outbox (
  id          bigserial PRIMARY KEY,
  routing_key text NOT NULL,
  envelope    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
)sql";

/// Migration 2: returns of order lines. The primary key of return_lines is the rule "an order
/// line is in one return at most".
constexpr const char* kReturns = R"sql(
CREATE TABLE IF NOT EXISTS returns (
  return_id    uuid PRIMARY KEY,
  order_id     uuid NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
  customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  status       text NOT NULL
               CHECK (status IN ('awaiting_parcel', 'refunded', 'expired', 'failed')),
  refund_cents bigint NOT NULL CHECK (refund_cents >= 0),
  reason       text,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS returns_by_customer ON returns (customer_id, created_at DESC);

CREATE TABLE IF NOT EXISTS return_lines (
  order_id         uuid NOT NULL,
  isbn             text NOT NULL,
  return_id        uuid NOT NULL REFERENCES returns (return_id) ON DELETE CASCADE,
  line             integer NOT NULL,
  quantity         integer NOT NULL CHECK (quantity > 0),
  title            text NOT NULL,
  unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
  refund_cents     bigint NOT NULL CHECK (refund_cents >= 0),
  PRIMARY KEY (order_id, isbn)
);
CREATE INDEX IF NOT EXISTS return_lines_by_return ON return_lines (return_id, line);
)sql";

/// Migration 3: a basket line set and the basket it leaves, in one call. The function's second
/// statement takes a snapshot of its own (PL/pgSQL does so for every statement of a volatile
/// function under READ COMMITTED), so the lines it answers include any that a concurrent edit
/// committed while the first waited for the customer's lock, as two statements sent one after
/// the other would, in one round trip instead of two. No row: there is no such customer (a
/// written line is always in the answer).
constexpr const char* kSetBasketLine = R"sql(
CREATE OR REPLACE FUNCTION set_basket_line(p_customer uuid, p_isbn text, p_quantity integer,
                                           p_at timestamptz)
RETURNS TABLE (line_isbn text, line_quantity integer)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  WITH c AS (SELECT id FROM customers WHERE id = p_customer FOR NO KEY UPDATE)
  INSERT INTO basket_items (customer_id, isbn, quantity, added_at)
  SELECT c.id, p_isbn, p_quantity, p_at FROM c
  ON CONFLICT (customer_id, isbn) DO UPDATE SET quantity = EXCLUDED.quantity;
  IF FOUND THEN
    RETURN QUERY SELECT b.isbn, b.quantity FROM basket_items b
                 WHERE b.customer_id = p_customer ORDER BY b.added_at, b.isbn;
  END IF;
END
$fn$;
)sql";

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "customers, sessions, baskets, orders, idempotency, outbox", kInitialSchema},
      {2, "returns and their lines", kReturns},
      {3, "set_basket_line: a basket line and the basket in one call", kSetBasketLine},
  };
  return all;
}

int migrate(Database& db) {
  pqxx::work tx(db.connection());
  // One migrator per schema at a time; the lock is released with the transaction.
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                 "wonderland.customer.migrations:" + db.schema());
  tx.exec("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(db.schema()));
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version integer PRIMARY KEY, name text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  std::vector<int> applied;
  for (const auto& row : tx.exec("SELECT version FROM schema_migrations"))
    applied.push_back(row[0].as<int>());
  int count = 0;
  for (const auto& m : migrations()) {
    if (std::find(applied.begin(), applied.end(), m.version) != applied.end())
      continue;
    tx.exec(m.sql);
    tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                   m.name);
    ++count;
  }
  tx.commit();
  if (count > 0)
    log::info("customer schema '{}': applied {} migration(s)", db.schema(), count);
  return count;
}

void migrate_when_reachable(Database& db, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      migrate(db);
      return;
    } catch (const pqxx::failure& e) {
      bool transient =
          dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr || !db.connected();
      if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
        transient = transient || sql->sqlstate().rfind("57P", 0) == 0;  // starting or stopping
      }
      if (!transient || std::chrono::steady_clock::now() >= deadline)
        throw;
      log::warn("customer database not reachable yet ({}); retrying", e.what());
      db.reset();
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

std::vector<int> applied_migrations(Database& db) {
  pqxx::read_transaction tx(db.connection());
  std::vector<int> versions;
  for (const auto& row : tx.exec("SELECT version FROM schema_migrations ORDER BY version")) {
    versions.push_back(row[0].as<int>());
  }
  return versions;
}

}  // namespace wonderland::customer
