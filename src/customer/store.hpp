// The customer service's operations on PostgreSQL: accounts, sessions, profiles and addresses,
// baskets, the order history and returns (docs/commands.md, section "customer").
//
//   customer::Database db(url, "customer");
//   customer::migrate(db);
//   customer::Store store(db);
//   Result<json> profile = store.sign_up({{"username", "alice"}, ...});
//
// Every operation takes the command's JSON body and returns its reply body or an error value
// for what the caller did wrong (invalid_argument with fields, conflict, not_found,
// unauthenticated, failed_precondition). Database failures are thrown (pqxx exceptions), for
// `guarded` (guarded.hpp) to turn into error values at the boundary.
//
// Each operation runs in one transaction: the database's ambient transaction when one is set
// (the idempotency store's), otherwise its own, committed only when the operation succeeds.
// Operations on one customer's basket lock the customer's row, so they apply one after the other.
//
// A Store is not thread-safe (nor is its Database): one per worker thread.
//
// The operations are defined by concern: store_accounts.cpp (sign-up, sessions, profiles),
// store_baskets.cpp, store_orders.cpp and store_returns.cpp, over the shared lookups of
// store_queries.hpp.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "database.hpp"
#include "wonderland/common/error.hpp"
#include "wonderland/common/time.hpp"
#include "wonderland/customer/password.hpp"
#include "wonderland/customer/protocol.hpp"
#include "wonderland/customer/validation.hpp"
#include "wonderland/messaging/envelope.hpp"

namespace wonderland::customer {

struct StoreOptions {
  /// How long a session token stays valid after sign-in.
  std::chrono::seconds session_ttl{86400};
  /// Cost of new password hashes.
  PasswordPolicy password;
  /// The current time; null means the system clock. Tests set it to move time forward.
  std::function<SystemTime()> clock;
  /// The `source` of the events this store writes to the outbox.
  std::string source = "customer";
  /// How many days after an order was recorded its lines may be returned.
  int return_window_days = 30;
};

class Store {
 public:
  explicit Store(Database& db, StoreOptions options = {});

  /// `customer.sign_up`: creates the account (password hashed with argon2id) and, when given,
  /// its first address; writes the `customer.signed_up` event to the outbox in the same
  /// transaction (caused by `cause` when given). Returns the Profile.
  /// Errors: invalid_argument with fields; conflict "username is taken" /
  /// "email is already registered" with fields (both fields when both are taken).
  Result<nlohmann::json> sign_up(const nlohmann::json& body,
                                 const messaging::Envelope* cause = nullptr);
  /// A sign-up validated and its password hashed, ready to be written: the work of sign_up that
  /// needs no database. The hash takes tens of milliseconds of CPU (argon2id), so it is done
  /// before the transaction opens, not with one held open.
  struct PreparedSignUp {
    SignUpRequest request;
    std::string password_hash;
  };
  /// Validates `body` and hashes its password. Errors: invalid_argument with fields.
  Result<PreparedSignUp> prepare_sign_up(const nlohmann::json& body) const;
  /// The writing half of sign_up, in the ambient transaction when there is one.
  Result<nlohmann::json> sign_up(const PreparedSignUp& prepared,
                                 const messaging::Envelope* cause = nullptr);
  /// `customer.sign_in` → `{token, expires_at, customer_id}`. The username is matched
  /// case-insensitively. Only the token's SHA-256 is stored; sessions of the customer that have
  /// expired are deleted. A hash made under another policy is upgraded. The password is checked
  /// (and an upgraded hash made) outside any transaction; the transaction that then writes the
  /// session checks that the hash it was checked against is still the customer's.
  /// Errors: unauthenticated "Invalid username or password" (the same answer, and about the
  /// same time, for an unknown user as for a wrong password); invalid_argument when a field is
  /// missing.
  Result<nlohmann::json> sign_in(const nlohmann::json& body);
  /// `customer.sign_out` → `{}`; ends the session (an unknown token is not an error).
  Result<nlohmann::json> sign_out(const nlohmann::json& body);
  /// `customer.authenticate` → Profile of the token's customer.
  /// Errors: unauthenticated when the token is missing, unknown, expired or signed out.
  Result<nlohmann::json> authenticate(const nlohmann::json& body);
  /// `customer.get_profile` → Profile. Errors: not_found.
  Result<nlohmann::json> get_profile(const nlohmann::json& body);
  /// `customer.add_address` → Profile with the address appended. Errors: invalid_argument,
  /// not_found.
  Result<nlohmann::json> add_address(const nlohmann::json& body);

  /// `customer.get_basket` → `{items:[{isbn, quantity}]}` in the order titles were added.
  Result<nlohmann::json> get_basket(const nlohmann::json& body);
  /// `customer.set_basket_item` → `{items}`: sets the quantity (0–3; 0 removes the title).
  /// Errors: invalid_argument (quantity above 3: "at most 3 copies of one title"), not_found.
  Result<nlohmann::json> set_basket_item(const nlohmann::json& body);
  /// `customer.add_basket_item` → `{items}`: adds `quantity` (1–3, default 1) copies to what is
  /// in the basket. Errors: invalid_argument when the total would exceed 3, not_found.
  Result<nlohmann::json> add_basket_item(const nlohmann::json& body);
  /// `customer.remove_basket_item` → `{items}`; removing a title that is not there succeeds.
  Result<nlohmann::json> remove_basket_item(const nlohmann::json& body);

  /// `customer.validate` → `{customer_id, email, first_name, last_name, items}`: the snapshot the
  /// purchase workflow starts from. Errors: not_found; failed_precondition "Your basket is empty".
  Result<nlohmann::json> validate(const nlohmann::json& body);
  /// `customer.record_order` → `{order_id}`. Idempotent by order_id: the first record wins and
  /// a repeat changes nothing. With `clear_basket: true` the record also empties the basket, in
  /// the same statement and only when it records the order (as `clear_basket` would, once per
  /// order). Errors: invalid_argument, not_found (customer), conflict (the order id is recorded
  /// for another customer).
  Result<nlohmann::json> record_order(const nlohmann::json& body);
  /// `customer.clear_basket` → `{}`: empties the basket once per order_id; a repeat for the
  /// same order leaves titles added since untouched. Errors: invalid_argument, not_found.
  Result<nlohmann::json> clear_basket(const nlohmann::json& body);
  /// `customer.list_orders` → `{orders:[{order_id, items, total_cents, status, created_at}]}`,
  /// newest first. Errors: not_found.
  Result<nlohmann::json> list_orders(const nlohmann::json& body);

  /// `customer.check_return` → `{return_id, order_id, lines:[{isbn, title, quantity,
  /// unit_price_cents, refund_cents}], refund_cents, existing}`, read-only: whether the lines of
  /// the order can be returned, priced at what was paid. A return_id already recorded for the
  /// same customer and order is `existing` and replies its recorded lines.
  /// Errors: invalid_argument (fields; a line not in the order or above what was bought, named
  /// `lines[i].isbn` / `lines[i].quantity`), not_found "no order '<id>'" (also for another
  /// customer's order), failed_precondition (the return window ended), conflict (a line
  /// is in another return, or the return_id is recorded for another order).
  Result<nlohmann::json> check_return(const nlohmann::json& body);
  /// `customer.record_return`: the checks of check_return with the order locked, then records
  /// the return `awaiting_parcel` with its lines. Reply as check_return plus `status`;
  /// idempotent by return_id (a repeat replies the recorded return with `existing: true`).
  Result<nlohmann::json> record_return(const nlohmann::json& body);
  /// `customer.complete_return` → Return with status `refunded` and the refund_cents given;
  /// a repeat changes nothing. Errors: invalid_argument, not_found "no return '<id>'".
  Result<nlohmann::json> complete_return(const nlohmann::json& body);
  /// `customer.close_return` → Return: sets `expired` or `failed` (and the reason, when given)
  /// unless the return is `refunded`, which stays. Errors: invalid_argument, not_found.
  Result<nlohmann::json> close_return(const nlohmann::json& body);
  /// `customer.list_returns` → `{returns:[Return]}`, newest first, of one order when `order_id`
  /// is given. Errors: invalid_argument, not_found (customer).
  Result<nlohmann::json> list_returns(const nlohmann::json& body);
  /// `customer.get_return` → Return. Errors: invalid_argument, not_found "no return '<id>'"
  /// (also for another customer's return).
  Result<nlohmann::json> get_return(const nlohmann::json& body);

  const StoreOptions& options() const { return options_; }

 private:
  using TxBody = std::function<Result<nlohmann::json>(pqxx::transaction_base&)>;
  using CustomerTxBody = std::function<Result<nlohmann::json>(pqxx::transaction_base&,
                                                              const std::string& customer_id)>;
  Result<nlohmann::json> in_transaction(const TxBody& body);
  /// Runs `body` in the enclosing transaction when there is one, else with every statement
  /// committing on its own, without BEGIN and COMMIT (two round trips to the server fewer): for
  /// bodies that need no two statements to be atomic together, such as one statement, or one
  /// write and then reads of what it wrote.
  Result<nlohmann::json> without_transaction(const TxBody& body);
  /// How a body's SQL runs: in_transaction, or without_transaction.
  using Runner = Result<nlohmann::json> (Store::*)(const TxBody&);
  /// Validates a body that names only `customer_id`, then runs `body` with it through `run` (in
  /// a transaction unless told otherwise).
  Result<nlohmann::json> for_customer(const nlohmann::json& request, const CustomerTxBody& body,
                                      Runner run = &Store::in_transaction);
  SystemTime now() const;
  const std::string& dummy_hash();
  /// check_return and record_return: `record` locks the order and inserts the return.
  Result<nlohmann::json> check_or_record_return(const nlohmann::json& body, bool record);

  Database& db_;
  StoreOptions options_;
  std::optional<std::string> dummy_hash_;
};

}  // namespace wonderland::customer
