#include "wonderland/workflow/definition.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "support.hpp"

namespace wonderland::workflow {
namespace {

using nlohmann::json;
using testing::task;
using testing::TempDir;

const std::filesystem::path kWorkflows = WONDERLAND_WORKFLOWS_DIR;
const std::filesystem::path kFixture = WONDERLAND_TEST_DATA_DIR "/purchase_fixture.json";

json minimal() {
  return json{{"name", "demo"}, {"version", 1}, {"steps", json::array({task("a", "svc.a")})}};
}

/// Parses `doc` and returns the error message (empty when it parsed).
std::string error_of(const json& doc) {
  auto def = parse_definition(doc, "workflows/demo.json");
  return def.ok() ? std::string() : def.error().message;
}

TEST(Definition, PurchaseFixtureLoads) {
  auto def = load_definition_file(kFixture);
  ASSERT_TRUE(def.ok()) << def.error().message;
  const Definition& d = **def;
  EXPECT_EQ(d.name, "purchase");
  EXPECT_EQ(d.version, 1);
  ASSERT_EQ(d.root.size(), 6u);
  const Step* reserve = d.find("reserve");
  ASSERT_NE(reserve, nullptr);
  EXPECT_EQ(reserve->action, "inventory.reserve");
  ASSERT_TRUE(reserve->compensation.has_value());
  EXPECT_EQ(reserve->compensation->action, "inventory.release");
  EXPECT_EQ(reserve->compensation->service, "inventory");
  EXPECT_EQ(reserve->retry.max_attempts, 5);  // from defaults
  const Step* charge = d.find("charge");
  EXPECT_EQ(charge->retry.max_attempts, 3);
  EXPECT_EQ(charge->retry.initial_backoff.count(), 500);
  EXPECT_EQ(charge->retry.max_backoff.count(), 5000);  // default kept
  EXPECT_EQ(charge->timeout.count(), 10000);
  const Step* fulfil = d.find("fulfil");
  EXPECT_EQ(fulfil->kind, StepKind::kParallel);
  EXPECT_EQ(fulfil->branches.size(), 3u);
  EXPECT_EQ(d.find("record_order")->path, "fulfil/record_order");
  EXPECT_EQ(d.find("announce")->kind, StepKind::kPublish);
  ASSERT_EQ(d.on_failure.size(), 1u);
  EXPECT_EQ(d.steps[d.on_failure[0]].path, "on_failure/announce_failure");
  EXPECT_EQ(d.digest.size(), 16u);
}

TEST(Definition, PurchaseExampleHasTheSagaShape) {
  auto def = load_definition_file(kWorkflows / "purchase.json");
  ASSERT_TRUE(def.ok()) << def.error().message;
  const Definition& d = **def;
  EXPECT_EQ(d.name, "purchase");
  auto action_of = [&](const char* id) {
    const Step* s = d.find(id);
    return s ? s->action : std::string("(missing)");
  };
  EXPECT_EQ(action_of("reserve"), "inventory.reserve");
  EXPECT_EQ(action_of("charge"), "payment.charge");
  ASSERT_TRUE(d.find("reserve")->compensation.has_value());
  EXPECT_EQ(d.find("reserve")->compensation->action, "inventory.release");
  ASSERT_TRUE(d.find("charge")->compensation.has_value());
  EXPECT_EQ(d.find("charge")->compensation->action, "payment.refund");
  const Step* fulfil = d.find("fulfil");
  ASSERT_NE(fulfil, nullptr);
  EXPECT_EQ(fulfil->kind, StepKind::kParallel);
  EXPECT_EQ(fulfil->branches.size(), 3u);
  bool confirmed = false;
  for (const Step& s : d.steps)
    confirmed = confirmed || s.topic == "order.confirmed";
  EXPECT_TRUE(confirmed);
  ASSERT_FALSE(d.on_failure.empty());
  EXPECT_EQ(d.steps[d.on_failure[0]].topic, "order.failed");
}

namespace {

/// Every step of `older` but `dropped` is in `newer`, with the same action and compensation.
void expect_same_saga_but(const Definition& older, const Definition& newer,
                          const std::string& dropped) {
  for (const Step& s : older.steps) {
    if (s.id == dropped)
      continue;
    const Step* same = newer.find(s.id);
    ASSERT_NE(same, nullptr) << s.id;
    EXPECT_EQ(same->action, s.action) << s.id;
    EXPECT_EQ(same->compensation.has_value(), s.compensation.has_value()) << s.id;
  }
}

}  // namespace

TEST(Definition, PurchaseV3PricesInTheReservation) {
  auto v2 = load_definition_file(kWorkflows / "purchase-v2.json");
  auto v3 = load_definition_file(kWorkflows / "purchase-v3.json");
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  ASSERT_TRUE(v3.ok()) << v3.error().message;
  EXPECT_EQ((*v3)->name, "purchase");
  EXPECT_EQ((*v3)->version, 3);
  EXPECT_NE((*v2)->find("price"), nullptr);
  EXPECT_EQ((*v3)->find("price"), nullptr);
  // Everything v2 took from the price step, v3 takes from the reservation's reply.
  std::ifstream in(kWorkflows / "purchase-v3.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("steps.price"), std::string::npos);
  EXPECT_NE(text.find("${steps.reserve.output.total_cents}"), std::string::npos);
  expect_same_saga_but(**v2, **v3, "price");
}

TEST(Definition, PurchaseV4RecordsTheOrderAndEmptiesTheBasketInOneStep) {
  auto v3 = load_definition_file(kWorkflows / "purchase-v3.json");
  auto v4 = load_definition_file(kWorkflows / "purchase-v4.json");
  ASSERT_TRUE(v3.ok()) << v3.error().message;
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  EXPECT_EQ((*v4)->name, "purchase");
  EXPECT_EQ((*v4)->version, 4);
  EXPECT_EQ((*v4)->find("clear_basket"), nullptr);
  EXPECT_EQ((*v4)->find("fulfil")->branches.size(), 2u);
  const Step* record = (*v4)->find("record_order");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->action, "customer.record_order");
  std::ifstream in(kWorkflows / "purchase-v4.json");
  const json doc = json::parse(in);
  EXPECT_EQ(doc["steps"][3]["branches"][1][0]["input"]["clear_basket"], true);
  expect_same_saga_but(**v3, **v4, "clear_basket");
}

TEST(Definition, PurchaseV5IsV4WithFulfilAsItsPivot) {
  auto v4 = load_definition_file(kWorkflows / "purchase-v4.json");
  auto v5 = load_definition_file(kWorkflows / "purchase-v5.json");
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  ASSERT_TRUE(v5.ok()) << v5.error().message;
  EXPECT_EQ((*v5)->version, 5);
  EXPECT_FALSE((*v4)->pivot.has_value());
  ASSERT_TRUE((*v5)->pivot.has_value());
  EXPECT_EQ((*v5)->steps[*(*v5)->pivot].id, "fulfil");
  EXPECT_TRUE((*v5)->decides(events::kStepSucceeded, "fulfil"));
  EXPECT_FALSE((*v5)->decides(events::kStepSucceeded, "fulfil/record_order"));
  EXPECT_FALSE((*v5)->decides(events::kStepFailed, "fulfil"));
  // Apart from the pivot (and the version and description), the documents are the same.
  std::ifstream in4(kWorkflows / "purchase-v4.json");
  std::ifstream in5(kWorkflows / "purchase-v5.json");
  json d4 = json::parse(in4);
  json d5 = json::parse(in5);
  EXPECT_EQ(d5["pivot"], "fulfil");
  for (const char* field : {"version", "description", "pivot"}) {
    d4.erase(field);
    d5.erase(field);
  }
  EXPECT_EQ(d4, d5);
}

TEST(Definition, APivotNamesATopLevelStepWithNothingToUndoAfterIt) {
  json doc = minimal();
  doc["steps"].push_back(task("b", "svc.b"));
  doc["steps"].push_back({{"id", "both"},
                          {"kind", "parallel"},
                          {"branches", json::array({json::array({task("c", "svc.c")})})}});
  doc["pivot"] = "a";
  EXPECT_EQ(error_of(doc), "");
  doc["pivot"] = 3;
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: field 'pivot': must be a step id (a string), not number");
  doc["pivot"] = "c";  // inside the parallel step
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: field 'pivot': must name a step of the top-level sequence ('c' "
            "is none)");
  doc["pivot"] = "nothing";
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: field 'pivot': must name a step of the top-level sequence "
            "('nothing' is none)");
  // A compensation after the pivot would never run: refused, also inside a composite.
  doc["pivot"] = "a";
  doc["steps"][2]["branches"][0][0] = task("c", "svc.c", true);
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: step 'c': field 'compensation': would never run: the step "
            "comes after the pivot 'a', whose success decides the workflow");
  doc["pivot"] = "both";  // the pivot itself and what comes before it may be undone
  doc["steps"][0] = task("a", "svc.a", true);
  EXPECT_EQ(error_of(doc), "");
}

TEST(Definition, ErrorsNameFileStepAndField) {
  json doc = minimal();
  doc["steps"][0]["retry"] = {{"max_attempts", 0}};
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: step 'a': field 'retry.max_attempts': must be an integer >= 1");

  doc = minimal();
  doc["steps"][0].erase("action");
  EXPECT_EQ(error_of(doc), "workflows/demo.json: step 'a': field 'action': is required");

  doc = minimal();
  doc["steps"][0]["timeout_ms"] = "soon";
  EXPECT_NE(error_of(doc).find("step 'a': field 'timeout_ms'"), std::string::npos);

  doc = minimal();
  doc["steps"][0]["kind"] = "loop";
  EXPECT_NE(error_of(doc).find("step 'a': field 'kind': must be one of"), std::string::npos);

  doc = minimal();
  doc["steps"][0]["retyr"] = json::object();
  EXPECT_EQ(error_of(doc), "workflows/demo.json: step 'a': field 'retyr': unknown field");

  doc = minimal();
  doc["steps"][0]["compensation"] = {{"input", json::object()}};
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: step 'a': field 'compensation.action': is required");

  doc = minimal();
  doc["steps"][0]["retry"] = {{"initial_backoff_ms", 500}, {"max_backoff_ms", 100}};
  EXPECT_NE(error_of(doc).find("field 'retry.max_backoff_ms'"), std::string::npos);

  doc = minimal();
  doc["steps"][0]["retry"] = {{"jitter", 1.5}};
  EXPECT_NE(error_of(doc).find("field 'retry.jitter'"), std::string::npos);
}

TEST(Definition, RetryOnNamesCanonicalCodesOnly) {
  json doc = minimal();
  doc["steps"][0]["retry"] = {{"max_attempts", 3}, {"retry_on", {"unavailable", "unavaliable"}}};
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: step 'a': field 'retry.retry_on': 'unavaliable' is not a "
            "canonical error code");
  doc["steps"][0]["retry"]["retry_on"] = {"unavailable", "aborted"};
  auto def = parse_definition(doc, "workflows/demo.json");
  ASSERT_TRUE(def.ok()) << def.error().message;
  EXPECT_EQ((*def)->steps[0].retry.retry_on,
            (std::vector<Code>{codes::kUnavailable, codes::kAborted}));
}

TEST(Definition, StepWithoutIdIsNamedByPosition) {
  json doc = minimal();
  doc["steps"].push_back({{"kind", "task"}});
  EXPECT_EQ(error_of(doc), "workflows/demo.json: step steps[1]: field 'id': is required");
}

TEST(Definition, TopLevelErrors) {
  json doc = minimal();
  doc.erase("version");
  EXPECT_EQ(error_of(doc), "workflows/demo.json: field 'version': is required");
  doc["version"] = 1.5;
  EXPECT_EQ(error_of(doc), "workflows/demo.json: field 'version': must be an integer >= 1");
  doc = minimal();
  doc["steps"] = json::array();
  EXPECT_EQ(error_of(doc), "workflows/demo.json: field 'steps': must not be empty");
  doc = minimal();
  doc["name"] = "Bad Name";
  EXPECT_NE(error_of(doc).find("field 'name'"), std::string::npos);
  doc = minimal();
  doc["extra"] = 1;
  EXPECT_EQ(error_of(doc), "workflows/demo.json: field 'extra': unknown field");
  EXPECT_NE(error_of(json::array()).find("must be a JSON object"), std::string::npos);
}

TEST(Definition, DuplicateIdsAreRefused) {
  json doc = minimal();
  doc["steps"].push_back({{"id", "p"},
                          {"kind", "parallel"},
                          {"branches", json::array({json::array({task("a", "svc.b")})})}});
  EXPECT_EQ(error_of(doc), "workflows/demo.json: step 'a': field 'id': duplicate step id");
}

TEST(Definition, TemplateReferencesAreChecked) {
  json doc = minimal();
  doc["steps"][0]["input"] = {{"x", "${steps.nope.output.id}"}};
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: step 'a': field 'input': '${steps.nope.output.id}': no step "
            "'nope'");

  doc = minimal();
  doc["steps"][0]["input"] = {{"x", "${steps.a.output.id}"}};
  EXPECT_NE(error_of(doc).find("cannot use its own output"), std::string::npos);

  doc = minimal();
  doc["steps"][0]["input"] = {{"x", "${failure.reason}"}};
  EXPECT_NE(error_of(doc).find("field 'input': '${failure.reason}'"), std::string::npos);

  doc = minimal();
  doc["steps"][0]["input"] = {{"x", "${secrets.key}"}};
  EXPECT_NE(error_of(doc).find("must start with input, workflow, steps or failure"),
            std::string::npos);

  doc = minimal();
  doc["steps"][0]["input"] = {{"x", "${input.a"}};
  EXPECT_NE(error_of(doc).find("missing '}'"), std::string::npos);

  doc = minimal();  // a compensation may use its own step's output and the failure
  doc["steps"][0]["compensation"] = {
      {"action", "svc.undo"},
      {"input", {{"id", "${steps.a.output.id}"}, {"why", "${failure.reason}"}}}};
  EXPECT_EQ(error_of(doc), "");
}

TEST(Definition, ChoiceAndPublish) {
  json doc = minimal();
  doc["steps"].push_back(
      {{"id", "route"},
       {"kind", "choice"},
       {"on", "$.steps.a.output.total"},
       {"cases",
        json::array({{{"equals", 0}, {"steps", json::array({task("free", "svc.free")})}},
                     {{"greater_than", 100}, {"steps", json::array({task("big", "svc.big")})}}})},
       {"default", json::array({task("normal", "svc.normal")})}});
  doc["steps"].push_back({{"id", "tell"}, {"kind", "publish"}, {"topic", "demo.done"}});
  auto def = parse_definition(doc, "demo.json");
  ASSERT_TRUE(def.ok()) << def.error().message;
  const Step* route = (*def)->find("route");
  EXPECT_EQ(route->on_path, (std::vector<std::string>{"steps", "a", "output", "total"}));
  ASSERT_EQ(route->cases.size(), 2u);
  EXPECT_TRUE(route->cases[1].matches(json(101)));
  EXPECT_FALSE(route->cases[1].matches(json("101")));
  EXPECT_EQ((*def)->find("big")->path, "route/big");

  doc["steps"][1]["cases"][0] = {
      {"equals", 0}, {"one_of", json::array({1})}, {"steps", json::array()}};
  EXPECT_NE(error_of(doc).find("step 'route': field 'cases[0]': needs exactly one of"),
            std::string::npos);
  doc["steps"][1]["cases"][0] = {{"less_than", "x"}, {"steps", json::array()}};
  EXPECT_NE(error_of(doc).find("field 'cases[0].less_than': must be a number"), std::string::npos);
}

TEST(Definition, FailureHandlersMustPublish) {
  json doc = minimal();
  doc["on_failure"] = json::array({task("oops", "svc.oops")});
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: step 'oops': field 'kind': failure handlers must be publish "
            "steps");
}

TEST(Definition, InvalidJsonFileNamesTheFile) {
  TempDir dir;
  auto path = dir.path() / "broken.json";
  std::ofstream(path) << "{\"name\": ";
  auto def = load_definition_file(path);
  ASSERT_FALSE(def.ok());
  EXPECT_NE(def.error().message.find("broken.json: invalid JSON"), std::string::npos);
  EXPECT_EQ(load_definition_file(dir.path() / "missing.json").error().code, codes::kNotFound);
}

TEST(Definition, SizeAndDepthAreBounded) {
  // A hostile text is refused before it becomes a document.
  std::string text = minimal().dump();
  text.insert(text.size() - 1,
              ",\"description\":" + std::string(200'000, '[') + std::string(200'000, ']'));
  auto deep = parse_definition_text(text, "workflows/demo.json");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code, codes::kInvalidArgument);
  EXPECT_TRUE(deep.error().message.starts_with(
      "workflows/demo.json: nesting depth exceeds the limit of 64 (at byte"))
      << deep.error().message;

  // A template: 32 levels are fine, 33 are not; the message names the step and the field.
  json doc = minimal();
  json value = "${workflow.id}";
  for (int i = 0; i < 31; ++i)
    value = json::array({value});
  doc["steps"][0]["input"] = {{"x", value}};
  EXPECT_EQ(error_of(doc), "");
  doc["steps"][0]["input"] = {{"x", json::array({value})}};
  std::string where = "/x";
  for (int i = 0; i < 31; ++i)
    where += "/0";
  EXPECT_EQ(error_of(doc),
            "workflows/demo.json: step 'a': field 'input': template: nesting depth exceeds the "
            "limit of 32 (at " +
                where + ")");

  // At most 1000 steps.
  json many = minimal();
  for (int i = 1; i < 1000; ++i)
    many["steps"].push_back(task("s" + std::to_string(i), "svc.s"));
  EXPECT_EQ(error_of(many), "");
  many["steps"].push_back(task("s1000", "svc.s"));
  EXPECT_EQ(error_of(many),
            "workflows/demo.json: step 's1000': a definition has at most 1000 steps");

  // Parallel steps nest at most 16 deep.
  auto nested = [](int levels) {
    json step = task("leaf", "svc.leaf");
    for (int i = 0; i < levels; ++i) {
      step = {{"id", "p" + std::to_string(i)},
              {"kind", "parallel"},
              {"branches", json::array({json::array({step})})}};
    }
    json d = minimal();
    d["steps"] = json::array({step});
    return d;
  };
  EXPECT_EQ(error_of(nested(15)), "");
  EXPECT_EQ(error_of(nested(16)),
            "workflows/demo.json: step 'leaf': steps nest at most 16 deep (parallel and choice "
            "steps inside each other)");
}

TEST(Registry, KeepsEveryVersion) {
  DefinitionRegistry reg;
  json v1 = minimal();
  json v2 = minimal();
  v2["version"] = 2;
  v2["steps"].push_back(task("b", "svc.b"));
  ASSERT_TRUE(reg.add(parse_definition(v1, "v1").value()).ok());
  ASSERT_TRUE(reg.add(parse_definition(v2, "v2").value()).ok());
  EXPECT_EQ(reg.latest("demo")->version, 2);
  EXPECT_EQ(reg.find("demo", 1)->root.size(), 1u);
  EXPECT_EQ(reg.find("demo", 3), nullptr);
  EXPECT_EQ(reg.latest("other"), nullptr);
  EXPECT_EQ(reg.all().size(), 2u);
  // The same content again is fine; other content under a taken version is a conflict.
  EXPECT_TRUE(reg.add(parse_definition(v1, "again").value()).ok());
  json changed = v1;
  changed["steps"][0]["action"] = "svc.other";
  auto st = reg.add(parse_definition(changed, "changed").value());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, codes::kConflict);
}

TEST(Registry, LoadsTheWorkflowsDirectory) {
  DefinitionRegistry reg;
  auto n = reg.load_directory(kWorkflows);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_GE(*n, 1u);
  EXPECT_NE(reg.latest("purchase"), nullptr);
}

TEST(RetryPolicy, BackoffAndClassification) {
  RetryPolicy p{.max_attempts = 5,
                .initial_backoff = std::chrono::milliseconds(100),
                .max_backoff = std::chrono::milliseconds(1000),
                .multiplier = 3.0};
  EXPECT_EQ(p.backoff(1).count(), 100);
  EXPECT_EQ(p.backoff(2).count(), 300);
  EXPECT_EQ(p.backoff(3).count(), 900);
  EXPECT_EQ(p.backoff(4).count(), 1000);
  EXPECT_TRUE(p.should_retry(Error::of(codes::kUnavailable, "")));
  EXPECT_FALSE(p.should_retry(Error::of(codes::kInvalidArgument, "")));
  p.retry_on = {codes::kConflict};
  EXPECT_TRUE(p.should_retry(Error::of(codes::kConflict, "")));
  EXPECT_FALSE(p.should_retry(Error::of(codes::kUnavailable, "")));
}

}  // namespace
}  // namespace wonderland::workflow
