#include "server/keras/layer_specs.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

// Every class name and alias of the table.
std::set<std::string> TableNames() {
  std::set<std::string> names;
  for (const LayerSpec& spec : LayerSpecs()) {
    names.insert(spec.class_name);
    names.insert(spec.aliases.begin(), spec.aliases.end());
  }
  return names;
}

// The `ClassName`s between docs/conversion.md's two layer-list markers.
std::set<std::string> DocumentedNames() {
  std::ifstream file(testing::SourceDir() + "/docs/conversion.md");
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str();
  const size_t begin = doc.find("<!-- The layer classes");
  const size_t end = doc.find("<!-- end of the layer classes -->");
  EXPECT_NE(begin, std::string::npos);
  EXPECT_NE(end, std::string::npos);
  if (begin == std::string::npos || end == std::string::npos) return {};
  const std::string list = doc.substr(begin, end - begin);
  std::set<std::string> names;
  const std::regex code("`([A-Z][A-Za-z0-9]*)`");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), code); it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

TEST(LayerSpecs, TheDocsListExactlyTheTablesClasses) {
  const std::set<std::string> table = TableNames(), documented = DocumentedNames();
  for (const std::string& name : table) EXPECT_TRUE(documented.count(name)) << name << " is not in docs/conversion.md";
  for (const std::string& name : documented)
    EXPECT_TRUE(table.count(name)) << name << " is documented, not in the table";
}

TEST(LayerSpecs, EveryRowIsCompleteAndEveryNameUnique) {
  std::set<std::string> seen;
  for (const LayerSpec& spec : LayerSpecs()) {
    SCOPED_TRACE(spec.class_name);
    EXPECT_TRUE(spec.parse);
    EXPECT_TRUE(spec.infer_shape);
    EXPECT_TRUE(spec.weights || spec.bind);
    EXPECT_LE(spec.min_inputs, spec.max_inputs);
    EXPECT_TRUE(seen.insert(spec.class_name).second);
    for (const std::string& alias : spec.aliases) EXPECT_TRUE(seen.insert(alias).second) << alias;
  }
}

TEST(LayerSpecs, FindsClassesByNameAndAliasOnly) {
  ASSERT_NE(FindLayerSpec("Conv2D"), nullptr);
  EXPECT_EQ(FindLayerSpec("Convolution2D"), FindLayerSpec("Conv2D"));
  EXPECT_EQ(FindLayerSpec("MaxPool2D")->class_name, "MaxPooling2D");
  EXPECT_EQ(FindLayerSpec("UpSampling2D")->kind, LayerKind::kUpSampling2D);
  EXPECT_EQ(FindLayerSpec("conv2d"), nullptr);  // names are case-sensitive, as in Keras
  EXPECT_EQ(FindLayerSpec("Lambda"), nullptr);
  EXPECT_EQ(FindLayerSpec("RandomCrop"), nullptr);  // crops at inference
}

TEST(LayerSpecs, SupportedNamesListEveryClassOnce) {
  const std::string names = SupportedLayerNames();
  for (const LayerSpec& spec : LayerSpecs()) {
    EXPECT_NE(names.find(spec.class_name), std::string::npos) << spec.class_name;
  }
  EXPECT_EQ(names.find("Convolution2D"), std::string::npos);  // aliases stay out of messages
}

// Each row's expected variables, in Keras's order, for a Conv2D with bias.
TEST(LayerSpecs, Conv2DExpectsKernelThenBiasShapedByItsInput) {
  KerasLayer layer;
  layer.kind = LayerKind::kConv2D;
  layer.kernel_size = {3, 3};
  layer.filters = 8;
  layer.groups = 2;
  layer.output_shape = {4, 4, 8};
  const std::vector<ExpectedWeight> expected = FindLayerSpec("Conv2D")->weights(layer, {4, 4, 6});
  ASSERT_EQ(expected.size(), 2u);
  EXPECT_STREQ(expected[0].role, "kernel");
  EXPECT_EQ(expected[0].shape, (Shape{3, 3, 3, 8}));
  EXPECT_STREQ(expected[1].role, "bias");
  EXPECT_EQ(expected[1].shape, (Shape{8}));
}

}  // namespace
}  // namespace resnet8
