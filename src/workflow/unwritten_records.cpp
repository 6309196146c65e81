#include "unwritten_records.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace wonderland::workflow::detail {

std::string IsoStamper::operator()(SystemTime t) {
  const std::int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::int64_t sec = ms / 1000;
  std::int64_t milli = ms % 1000;
  if (milli < 0) {
    milli += 1000;
    --sec;
  }
  if (sec != second_ || prefix_.size() != 24) {
    prefix_ = format_iso8601(SystemTime(std::chrono::seconds(sec)));
    second_ = sec;
  }
  std::string out = prefix_;
  if (out.size() == 24) {  // YYYY-MM-DDTHH:MM:SS.mmmZ
    out[20] = static_cast<char>('0' + milli / 100);
    out[21] = static_cast<char>('0' + milli / 10 % 10);
    out[22] = static_cast<char>('0' + milli % 10);
  }
  return out;
}

void UnwrittenRecords::record(Instance& inst, const char* type, const Step* step, int attempt,
                              nlohmann::json data, std::optional<WorkflowStatus> status) {
  SystemTime now = clock_.now();
  JournalRecord r;
  r.workflow_id = inst.id;
  r.seq = inst.seq + 1;
  r.type = type;
  if (step)
    r.step = step->path;
  r.attempt = attempt;
  r.at = stamp_(now);
  r.data = std::move(data);
  r.status = status;
  if (auto st = apply(inst, r, to_ms(now)); !st) {
    spdlog::error("workflow {}: {}", inst.id, st.error().message);  // a bug: records are ours
  }
  if (status && is_settled(*status))
    batch_.settled.push_back(inst.id);
  batch_.records->push_back(std::move(r));
  batch_.definitions.push_back(inst.def.get());
}

JournalBatch UnwrittenRecords::take() {
  return std::exchange(batch_, JournalBatch{});
}

}  // namespace wonderland::workflow::detail
