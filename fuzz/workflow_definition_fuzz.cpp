// Fuzz target: a workflow definition document, then its templates rendered.
// Input: [mode byte] then text. Mode 0: the text is a definition; every template of a valid
// one is rendered against a context whose input is the definition document itself. Mode 1:
// the text is a template reference (`steps.a.output[0]`). Otherwise: the first NUL-separated
// field is a template document, the second the context document.
#include <cstdint>
#include <string>

#include "fuzz_input.hpp"
#include "wonderland/common/json_limits.hpp"
#include "wonderland/workflow/definition.hpp"
#include "wonderland/workflow/template.hpp"

using nlohmann::json;
using namespace wonderland::workflow;

namespace {

void render_all(const Definition& def, const json& context) {
  JsonScope scope(context);
  for (const Step& s : def.steps) {
    (void)s.input_template.render(scope);
    if (s.compensation)
      (void)s.compensation->input_template.render(scope);
    for (const ChoiceCase& c : s.cases)
      (void)c.matches(context);
    if (!s.on_path.empty())
      (void)walk(context, s.on_path);
  }
  if (def.output_template)
    (void)def.output_template->render(scope);
  for (const Step& s : def.steps) {
    WONDERLAND_FUZZ_CHECK(def.find(s.id) == &s);
    WONDERLAND_FUZZ_CHECK(def.find_path(s.path) == &s);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const std::uint8_t mode = data[0] % 3;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode == 0) {
    auto def = parse_definition_text(text, "fuzz.json");
    if (!def.ok()) {
      WONDERLAND_FUZZ_CHECK(def.error().message.starts_with("fuzz.json"));
      return 0;
    }
    json doc = json::parse(text);
    json context = {{"input", doc},
                    {"workflow", {{"id", "w-1"}, {"definition", "d"}, {"version", 1}, {"run", 1}}},
                    {"steps", json::object()}};
    for (const Step& s : (*def)->steps)
      context["steps"][s.id]["output"] = doc;
    render_all(**def, context);
    // The same document as a built value parses to the same definition.
    auto again = parse_definition(doc, "fuzz.json");
    WONDERLAND_FUZZ_CHECK(again.ok() && (*again)->digest == (*def)->digest);
    return 0;
  }
  if (mode == 1) {
    auto path = parse_template_path(text);
    if (path.ok())
      WONDERLAND_FUZZ_CHECK(!path->segments.empty());
    return 0;
  }
  wonderland::fuzz::FuzzInput in(data + 1, size - 1);
  auto tmpl = wonderland::parse_json_bounded(in.next());
  auto context = wonderland::parse_json_bounded(in.next());
  if (!tmpl.ok() || !context.ok())
    return 0;
  (void)template_references(*tmpl);
  auto compiled = CompiledTemplate::compile(*tmpl);
  auto direct = render_template(*tmpl, *context);
  if (compiled.ok()) {
    auto rendered = compiled->render(JsonScope(*context));
    // Compiled or not, a template renders the same.
    WONDERLAND_FUZZ_CHECK(rendered.ok() == direct.ok());
    if (rendered.ok())
      WONDERLAND_FUZZ_CHECK(*rendered == *direct);
  }
  return 0;
}
