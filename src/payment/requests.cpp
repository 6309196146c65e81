#include "requests.hpp"

#include "sealing.hpp"
#include "wonderland/common/request_fields.hpp"
#include "wonderland/payment/method.hpp"
#include "wonderland/payment/payments.hpp"
#include "wonderland/payment/protocol.hpp"

namespace wonderland::payment {

using nlohmann::json;

namespace {

void read_amount(const json& body, std::int64_t& out, std::vector<FieldError>& fields) {
  auto it = body.find("amount_cents");
  if (it == body.end() || !it->is_number_integer() ||
      (it->is_number_unsigned() &&
       it->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxAmountCents)) ||
      it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > kMaxAmountCents) {
    fields.push_back(
        {"amount_cents", "must be an integer from 1 to " + std::to_string(kMaxAmountCents)});
    return;
  }
  out = it->get<std::int64_t>();
}

void read_token_hash(const json& body, std::string& out, std::vector<FieldError>& fields) {
  auto it = body.find("payment_token");
  if (it == body.end() || !it->is_string() || !is_token(it->get<std::string>())) {
    fields.push_back({"payment_token", "must be a payment token from payment.tokenize"});
    return;
  }
  out = hex_sha256(it->get<std::string>());
}

void read_refund_id(const json& body, std::string& out, std::vector<FieldError>& fields) {
  auto it = body.find("refund_id");
  if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty() ||
      it->get_ref<const std::string&>().size() > kMaxRefundIdLength) {
    fields.push_back({"refund_id", "must be a string of 1 to " +
                                       std::to_string(kMaxRefundIdLength) + " characters"});
    return;
  }
  out = it->get<std::string>();
}

}  // namespace

Result<ChargeRequest> read_charge_request(const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  ChargeRequest request;
  read_uuid(body, "order_id", request.order_id, fields);
  read_uuid(body, "customer_id", request.customer_id, fields);
  read_amount(body, request.amount_cents, fields);
  read_token_hash(body, request.token_hash, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return request;
}

Result<PartialRefundRequest> read_partial_refund_request(const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  PartialRefundRequest request;
  read_uuid(body, "order_id", request.order_id, fields);
  read_refund_id(body, request.refund_id, fields);
  read_amount(body, request.amount_cents, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return request;
}

Result<std::string> read_order_id(const json& body) {
  if (!body.is_object())
    return not_an_object();
  std::vector<FieldError> fields;
  std::string order_id;
  read_uuid(body, "order_id", order_id, fields);
  if (!fields.empty())
    return invalid_fields(std::move(fields));
  return order_id;
}

}  // namespace wonderland::payment
