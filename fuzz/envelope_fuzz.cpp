// Fuzz target: a message body as it comes off the broker. Envelope::parse must either refuse
// it with std::invalid_argument or give an envelope that survives serialize -> parse with the
// same fields; the body's compact text must parse back to the same document.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz_input.hpp"
#include "wonderland/common/json_text.hpp"
#include "wonderland/messaging/envelope.hpp"

using wonderland::messaging::Envelope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view wire(reinterpret_cast<const char*>(data), size);
  Envelope e;
  try {
    e = Envelope::parse(wire);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  Envelope again = Envelope::parse(e.serialize());
  WONDERLAND_FUZZ_CHECK(again.message_id == e.message_id);
  WONDERLAND_FUZZ_CHECK(again.type == e.type);
  WONDERLAND_FUZZ_CHECK(again.correlation_id == e.correlation_id);
  WONDERLAND_FUZZ_CHECK(again.causation_id == e.causation_id);
  WONDERLAND_FUZZ_CHECK(again.idempotency_key == e.idempotency_key);
  WONDERLAND_FUZZ_CHECK(again.error == e.error);
  WONDERLAND_FUZZ_CHECK(again.body == e.body);
  auto text = wonderland::to_json_text(e.body);
  WONDERLAND_FUZZ_CHECK(nlohmann::json::parse(text) == e.body);
  // A reply to it, as a service would send.
  Envelope reply = Envelope::caused_by(e, "fuzz.reply", e.body, "fuzz");
  WONDERLAND_FUZZ_CHECK(reply.correlation_id == e.correlation_id);
  (void)reply.serialize();
  return 0;
}
