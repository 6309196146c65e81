// What the customer service speaks on the broker (docs/commands.md, section "customer").
//
// Commands
//   * RPC on the durable queue `customer.commands` (WONDERLAND_CUSTOMER_QUEUE renames it), one
//     request type per command below; the request body and the reply body are JSON objects:
//
//     type                          body                                     reply
//     customer.sign_up              {username, email, password, first_name,  Profile
//                                    last_name, phone?, address?}
//     customer.sign_in              {username, password}                     {token, expires_at,
//     customer_id} customer.sign_out             {token}                                  {}
//     customer.authenticate         {token}                                  Profile
//     customer.get_profile          {customer_id}                            Profile
//     customer.add_address          {customer_id, address}                   Profile
//     customer.get_basket           {customer_id}                            {items}
//     customer.set_basket_item      {customer_id, isbn, quantity (0-3)}      {items}
//     customer.add_basket_item      {customer_id, isbn, quantity? (1-3)}     {items}
//     customer.remove_basket_item   {customer_id, isbn}                      {items}
//     customer.validate             {customer_id}                            {customer_id, email,
//     first_name,
//                                                                             last_name, items}
//     customer.record_order         {customer_id, order_id, items,           {order_id}
//                                    total_cents, status}
//     customer.clear_basket         {customer_id, order_id}                  {}
//     customer.list_orders          {customer_id}                            {orders:[{order_id,
//     items,
//                                                                             total_cents, status,
//                                                                             created_at}]}
//     customer.check_return         {return_id, customer_id, order_id,       ReturnCheck
//                                    lines:[{isbn, quantity}]}
//     customer.record_return        {same as check_return}                   ReturnCheck with
//                                                                             status
//     customer.complete_return      {return_id, refund_cents}                Return
//     customer.close_return         {return_id, status, reason?}             Return
//     customer.list_returns         {customer_id, order_id?}                 {returns:[Return]}
//     customer.get_return           {customer_id, return_id}                 Return
//
//     `Profile` is `{customer_id, username, email, first_name, last_name, phone, addresses,
//     created_at}`, never a password or its hash; an address is `{line1, line2, city,
//     postal_code, country}`; `items` is `[{isbn, quantity}]` in the order titles were added.
//     `ReturnCheck` is `{return_id, order_id, lines, refund_cents, existing}` and `Return` is
//     `{return_id, order_id, customer_id, status, lines, refund_cents, created_at, updated_at,
//     reason?}`, where a line is `{isbn, title, quantity, unit_price_cents, refund_cents}`.
//   * Errors are values (`{code, message, retryable, fields?}`): invalid_argument with `fields`
//     for a malformed body, not_found for an unknown `customer_id`, unauthenticated for a bad
//     password or session, conflict for a taken username or email and for an order line that
//     is already in another return, failed_precondition for an empty basket or a passed return
//     window, and unavailable (retryable) while the database is unreachable.
//   * State-changing commands are deduplicated by the envelope's idempotency key (per type);
//     `customer.sign_in` never is, because its reply holds the session token.
// Out
//   * `customer.signed_up` on `wonderland.events` (topic), routing key = type, after the
//     sign-up committed (at least once, through an outbox): body `{customer_id, username,
//     email, first_name, last_name}`.
#pragma once

#include "wonderland/messaging/names.hpp"

namespace wonderland::customer {

/// The service's name, as the mediator addresses it.
inline constexpr const char* kService = "customer";

/// The command queue.
inline const messaging::QueueName kCommandQueue{"customer.commands"};

/// Request types of the commands (the table above).
namespace commands {
inline constexpr const char* kSignUp = "customer.sign_up";
inline constexpr const char* kSignIn = "customer.sign_in";
inline constexpr const char* kSignOut = "customer.sign_out";
inline constexpr const char* kAuthenticate = "customer.authenticate";
inline constexpr const char* kGetProfile = "customer.get_profile";
inline constexpr const char* kAddAddress = "customer.add_address";
inline constexpr const char* kGetBasket = "customer.get_basket";
inline constexpr const char* kSetBasketItem = "customer.set_basket_item";
inline constexpr const char* kAddBasketItem = "customer.add_basket_item";
inline constexpr const char* kRemoveBasketItem = "customer.remove_basket_item";
inline constexpr const char* kValidate = "customer.validate";
inline constexpr const char* kRecordOrder = "customer.record_order";
inline constexpr const char* kClearBasket = "customer.clear_basket";
inline constexpr const char* kListOrders = "customer.list_orders";
inline constexpr const char* kCheckReturn = "customer.check_return";
inline constexpr const char* kRecordReturn = "customer.record_return";
inline constexpr const char* kCompleteReturn = "customer.complete_return";
inline constexpr const char* kCloseReturn = "customer.close_return";
inline constexpr const char* kListReturns = "customer.list_returns";
inline constexpr const char* kGetReturn = "customer.get_return";
}  // namespace commands

/// The statuses of a return: waiting for the customer's parcel, then refunded, or closed as
/// expired (no parcel in time) or failed.
namespace return_status {
inline constexpr const char* kAwaitingParcel = "awaiting_parcel";
inline constexpr const char* kRefunded = "refunded";
inline constexpr const char* kExpired = "expired";
inline constexpr const char* kFailed = "failed";
}  // namespace return_status

/// The routing key (and envelope type) of the event published after a sign-up.
inline constexpr const char* kSignedUpEvent = "customer.signed_up";

}  // namespace wonderland::customer
