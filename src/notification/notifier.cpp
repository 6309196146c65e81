#include "wonderland/notification/notifier.hpp"

#include "wonderland/log/log.hpp"
#include "wonderland/messaging/consumer.hpp"

namespace wonderland::notification {
namespace {

std::string stem_of(const std::string& event_key) {
  std::string stem = event_key;
  for (char& c : stem) {
    if (c == ':')
      c = '.';
  }
  return stem;
}

}  // namespace

Notifier::Notifier(Store& store, Mailer& mailer, NotifierOptions options)
    : store_(store), mailer_(mailer), options_(std::move(options)) {
  if (!is_valid_address(options_.from.address)) {
    throw std::invalid_argument("the From address '" + options_.from.address + "' is not valid");
  }
  domain_ = options_.from.address.substr(options_.from.address.find('@') + 1);
}

RenderedMail Notifier::render(Event event) {
  std::optional<Contact> known = store_.contact(event.customer_id);
  if (event.email.empty()) {
    if (!known) {
      throw std::runtime_error(event.type + " event " + event.message_id +
                               ": no email address is known for customer " + event.customer_id +
                               " yet");
    }
    event.email = known->email;
  }
  if (known && event.first_name.empty() && event.last_name.empty()) {
    event.first_name = known->first_name;
    event.last_name = known->last_name;
  }
  Content content;
  try {
    content = compose(event);
  } catch (const std::exception& e) {
    throw InvalidEvent(event.type + " event " + event.message_id +
                       ": cannot be rendered: " + e.what());
  }
  EmailMessage message;
  message.from = options_.from;
  message.to = Mailbox{event.full_name(), event.email};
  message.subject = content.subject;
  message.date = event.occurred_at;
  const std::string stem = stem_of(event.key());
  message.message_id = stem + "@" + domain_;
  message.text = content.text;
  message.html = content.html;
  if (content.attachment)
    message.attachments.push_back(std::move(*content.attachment));
  message.extra_headers = {{"Auto-Submitted", "auto-generated"},
                           {"X-Wonderland-Event", event.type}};

  RenderedMail out;
  try {
    out.mail.data = render_message(message);
  } catch (const std::exception& e) {
    throw InvalidEvent(event.type + " event " + event.message_id +
                       ": cannot be rendered: " + e.what());
  }
  out.mail.envelope_from = options_.from.address;
  out.mail.recipient = event.email;
  out.mail.message_id = message.message_id;
  out.mail.file_stem = stem;
  out.record.customer_id = event.customer_id;
  out.record.kind = kind_name(event.kind);
  out.record.subject = content.subject;
  out.record.order_id = event.order_id;
  out.record.email = event.email;
  out.record.body = content.text;
  out.record.event_message_id = event.message_id;
  return out;
}

void Notifier::send_once(const Event& event, const Claim& claim, const RenderedMail& rendered) {
  if (sent_unrecorded_.count(claim.delivery_id) != 0)
    return;
  try {
    mailer_.send(rendered.mail);
  } catch (const DeliveryError& e) {
    try {
      store_.mark_failed(claim.delivery_id, e.what());
    } catch (const std::exception& db) {
      log::error("could not record the failed delivery of {}: {}", event.message_id, db.what());
    }
    if (e.permanent())
      throw messaging::PoisonMessage(e.what());
    throw;
  }
  sent_unrecorded_.insert(claim.delivery_id);
}

Outcome Notifier::handle(const messaging::Envelope& envelope) {
  Event event;
  try {
    event = parse_event(envelope);
  } catch (const InvalidEvent& e) {
    throw messaging::PoisonMessage(e.what());
  }
  if (!event.email.empty()) {
    store_.remember_contact(
        Contact{event.customer_id, event.email, event.first_name, event.last_name});
  }
  const DeliveryKeys keys{event.message_id, event.idempotency_key, event.key(), event.type};
  RenderedMail rendered;
  try {
    rendered = render(event);
  } catch (const InvalidEvent& e) {
    throw messaging::PoisonMessage(e.what());
  }

  const Claim claim = store_.claim(keys, options_.on_interrupted);
  switch (claim.decision) {
    case Decision::kAlreadySent:
      log::info("{} {} for {} was already delivered; not sending it again", event.type,
                event.message_id, event.key());
      return Outcome::kDuplicate;
    case Decision::kRecordOnly:
      log::warn(
          "{} {}: an earlier delivery was interrupted; recording it as sent without resending "
          "(policy skip)",
          event.type, event.message_id);
      store_.mark_sent(claim.delivery_id, rendered.record);
      return Outcome::kRecordedOnly;
    case Decision::kResend:
      if (sent_unrecorded_.count(claim.delivery_id) == 0) {
        log::warn(
            "{} {}: an earlier delivery was interrupted; sending again with the same Message-ID "
            "(policy resend)",
            event.type, event.message_id);
      }
      break;
    case Decision::kSend:
      break;
  }

  send_once(event, claim, rendered);
  store_.mark_sent(claim.delivery_id, rendered.record);
  sent_unrecorded_.erase(claim.delivery_id);
  log::info("sent {} for {} to customer {} via {} (attempt {})", rendered.record.kind, event.key(),
            event.customer_id, mailer_.describe(), claim.attempts);
  return Outcome::kSent;
}

}  // namespace wonderland::notification
