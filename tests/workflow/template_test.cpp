#include "wonderland/workflow/template.hpp"

#include <gtest/gtest.h>

namespace wonderland::workflow {
namespace {

using nlohmann::json;

const json kContext = {
    {"input", {{"customer_id", "c-1"}, {"count", 3}, {"tags", {"a", "b"}}, {"none", nullptr}}},
    {"steps",
     {{"price",
       {{"output",
         {{"total_cents", 4599}, {"lines", json::array({{{"sku", "978-0"}, {"qty", 2}}})}}}}}}},
    {"workflow", {{"id", "wf-9"}}}};

TEST(Template, WholeStringReferenceKeepsTheJsonType) {
  json tmpl = {{"total", "${steps.price.output.total_cents}"},
               {"lines", "${steps.price.output.lines}"},
               {"tags", "${input.tags}"},
               {"none", "${input.none}"},
               {"id", "${input.customer_id}"}};
  auto out = render_template(tmpl, kContext);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ((*out)["total"], 4599);
  EXPECT_TRUE((*out)["lines"].is_array());
  EXPECT_EQ((*out)["tags"], json({"a", "b"}));
  EXPECT_TRUE((*out)["none"].is_null());
  EXPECT_EQ((*out)["id"], "c-1");
}

TEST(Template, EmbeddedReferencesAreInterpolated) {
  auto out = render_template(json("order ${workflow.id} for ${input.customer_id}: ${input.count} "
                                  "x ${input.tags}"),
                             kContext);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "order wf-9 for c-1: 3 x [\"a\",\"b\"]");
}

TEST(Template, ArrayIndexBothForms) {
  auto a = render_template(json("${steps.price.output.lines[0].sku}"), kContext);
  auto b = render_template(json("${steps.price.output.lines.0.qty}"), kContext);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, "978-0");
  EXPECT_EQ(*b, 2);
}

TEST(Template, NestedStructuresAndNonStringsPassThrough) {
  json tmpl = {{"a", {{"b", json::array({"${input.count}", 1, true, nullptr})}}}, {"k", 2.5}};
  auto out = render_template(tmpl, kContext);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, json({{"a", {{"b", json::array({3, 1, true, nullptr})}}}, {"k", 2.5}}));
}

TEST(Template, ObjectKeysAreNotSubstituted) {
  auto out = render_template(json{{"${input.customer_id}", 1}}, kContext);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->contains("${input.customer_id}"));
}

TEST(Template, MissingReferenceIsAnErrorNamingIt) {
  auto out = render_template(json{{"x", "${steps.reserve.output.id}"}}, kContext);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, codes::kInvalidArgument);
  EXPECT_NE(out.error().message.find("${steps.reserve.output.id}"), std::string::npos);
  EXPECT_FALSE(render_template(json("a ${input.nope} b"), kContext).ok());
}

TEST(Template, OptionalReferenceGivesNullOrEmpty) {
  auto whole = render_template(json("${input.nope?}"), kContext);
  auto embedded = render_template(json("[${input.nope?}]"), kContext);
  ASSERT_TRUE(whole.ok() && embedded.ok());
  EXPECT_TRUE(whole->is_null());
  EXPECT_EQ(*embedded, "[]");
}

TEST(Template, DollarEscapes) {
  auto out = render_template(json("cost: $$5, literal $${input.count}, plain $ sign"), kContext);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "cost: $5, literal ${input.count}, plain $ sign");
}

TEST(Template, SyntaxErrors) {
  for (const char* bad : {"${}", "${input.}", "${.a}", "${a..b}", "${a[x]}", "${a b}", "${a"}) {
    auto out = render_template(json(bad), kContext);
    EXPECT_FALSE(out.ok()) << bad;
  }
}

TEST(Template, ReferencesAreListed) {
  auto refs = template_references(json{{"a", "${input.x}"}, {"b", {"x ${steps.s.output.y?} z"}}});
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 2u);
  EXPECT_EQ((*refs)[0].segments, (std::vector<std::string>{"input", "x"}));
  EXPECT_TRUE((*refs)[1].optional);
  EXPECT_EQ((*refs)[1].segments, (std::vector<std::string>{"steps", "s", "output", "y"}));
}

TEST(Template, CompiledRendersLikeTheDirectForm) {
  json tmpl = {{"total", "${steps.price.output.total_cents}"},
               {"text", "order ${workflow.id}: ${input.count} x $${not} ${input.nope?}"},
               {"list", json::array({"${input.customer_id}", 1, {{"k", "${input.tags[1]}"}}})},
               {"plain", {{"a", 1}, {"b", "$$"}}}};
  auto compiled = CompiledTemplate::compile(tmpl);
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
  auto a = compiled->render(JsonScope(kContext));
  auto b = render_template(tmpl, kContext);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ((*a)["text"], "order wf-9: 3 x ${not} ");
  EXPECT_EQ((*a)["plain"]["b"], "$");
  EXPECT_FALSE(CompiledTemplate::compile(json("${a b}")).ok());
  auto missing =
      CompiledTemplate::compile(json{{"x", "id ${input.nope}"}})->render(JsonScope(kContext));
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(CompiledTemplate().render(JsonScope(kContext)).value(), json::object());
}

TEST(Template, JsonPathForm) {
  auto p = parse_template_path("$.steps.price.output.total_cents");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->segments.size(), 4u);
}

}  // namespace
}  // namespace wonderland::workflow
