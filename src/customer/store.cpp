#include "store.hpp"

#include <pqxx/pqxx>

#include "wonderland/common/ids.hpp"
#include "wonderland/customer/validation.hpp"

namespace wonderland::customer {

using nlohmann::json;

Store::Store(Database& db, StoreOptions options) : db_(db), options_(std::move(options)) {}

SystemTime Store::now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

const std::string& Store::dummy_hash() {
  if (!dummy_hash_)
    dummy_hash_ = hash_password(random_hex(16), options_.password);
  return *dummy_hash_;
}

Result<json> Store::in_transaction(const TxBody& body) {
  if (pqxx::transaction_base* tx = db_.ambient())
    return body(*tx);
  pqxx::work tx(db_.connection());
  Result<json> r = body(tx);
  if (r.ok())
    tx.commit();
  return r;
}

Result<json> Store::without_transaction(const TxBody& body) {
  if (pqxx::transaction_base* tx = db_.ambient())
    return body(*tx);
  pqxx::nontransaction tx(db_.connection());
  return body(tx);
}

Result<json> Store::for_customer(const json& request, const CustomerTxBody& body, Runner run) {
  BodyReader r(request);
  std::string customer_id = r.uuid("customer_id");
  if (!r.ok())
    return r.error();
  return (this->*run)([&](pqxx::transaction_base& tx) { return body(tx, customer_id); });
}

}  // namespace wonderland::customer
