#include "server/keras/keras_archive.h"

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/keras/config_reader.h"
#include "server/keras/model.h"
#include "server/keras/zip_archive.h"

namespace resnet8 {
namespace {

using nlohmann::json;

constexpr char kConfigMember[] = "config.json";
constexpr char kMetadataMember[] = "metadata.json";
constexpr char kWeightsMember[] = "model.weights.h5";
// The weights member holds at most the reader's weight limit, plus HDF5's own
// structure (object headers, B-trees, padding).
constexpr uint64_t kMaxWeightsMemberBytes = kMaxTotalWeightElements * sizeof(float) + (uint64_t{64} << 20);

absl::Status Invalid(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// `text`, the member `member` of the archive at `path`, as JSON.
absl::StatusOr<json> ParseJson(const std::string& text, const std::string& member, const std::string& path) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Invalid(path, absl::StrCat(member, " is not valid JSON: ", e.what()));
  }
}

// What AssignVarsGroups() knows as it walks the layers.
struct Walk {
  std::map<std::string, KerasLayerWeights*> by_path;
  bool checkpoint_layout = false;
  std::vector<KerasLayerWeights> assigned;
  std::set<std::string> claimed;
  std::string path;  // the archive, for messages
};

// Gives the `vars` groups below `group_prefix` ("layers/", or a nested
// model's "layers/sequential/layers/") to the layers of `model`, walking them
// as Keras's saving_lib walks model.layers (see keras_archive.h): each class
// numbered in order, a Sequential model's InputLayer left out, a nested
// model's layers in its own group with their own numbering. Layers are named
// as model.h's graph names them: `name_prefix` + the layer's name.
// tf.keras 2.12-2.14 walked a dict that lists every layer with weights twice,
// so such a layer uses up a second name of its class there.
absl::Status AssignModel(const json& model, const std::string& group_prefix, const std::string& name_prefix,
                         Walk& walk) {
  const std::string model_class = model.is_object() ? StringField(model, "class_name") : "";
  const json& inner = model.is_object() && model.contains("config") ? model["config"] : json();
  const json& layers = inner.is_object() && inner.contains("layers") ? inner["layers"] : json();
  if (!layers.is_array()) {
    return Invalid(walk.path, absl::StrCat(kConfigMember, ": ", name_prefix.empty() ? "the model" : name_prefix,
                                           " has no config.layers list (class '", model_class,
                                           "'; supported: Functional, Sequential)"));
  }
  std::map<std::string, int> used;
  auto unique_name = [&used](const std::string& base) {
    auto [it, inserted] = used.try_emplace(base, 0);
    return inserted ? base : absl::StrCat(base, "_", ++it->second);
  };
  for (const json& layer : layers) {
    if (!layer.is_object() || !layer.contains("class_name") || !layer["class_name"].is_string()) continue;
    const std::string class_name = layer["class_name"].get<std::string>();
    const json& layer_config = layer.contains("config") ? layer["config"] : json();
    const std::string name =
        name_prefix + (layer.contains("name") && layer["name"].is_string() ? layer["name"].get<std::string>()
                       : layer_config.is_object()                          ? StringField(layer_config, "name")
                                                                           : "");
    // Keras 3 serializes keras.ops calls in a functional graph beside its
    // layers; they are operations, not layers, and hold no variables.
    const std::string module =
        layer.contains("module") && layer["module"].is_string() ? layer["module"].get<std::string>() : "";
    if (absl::StartsWith(module, "keras.src.ops") || absl::StartsWith(module, "keras.ops")) {
      return Invalid(walk.path, absl::StrCat(kConfigMember, ": '", name, "' is the operation ", module, ".", class_name,
                                             ", not a layer; only layers convert"));
    }
    // Sequential.layers leaves out the InputLayer that config.json lists first.
    if (model_class == "Sequential" && class_name == "InputLayer") continue;
    const std::string group_path = group_prefix + unique_name(KerasSnakeCase(class_name));
    if (IsModelClass(class_name)) {
      walk.claimed.insert(group_path);  // its own vars group is empty
      RETURN_IF_ERROR(AssignModel(layer, group_path + "/layers/", name + "/", walk));
      continue;
    }
    auto group = walk.by_path.find(group_path);
    if (group == walk.by_path.end())
      continue;  // a layer without variables (or missing ones: BuildKerasModel says which)
    const KerasLayerWeights& found = *group->second;
    const std::string bare_name = name.substr(name_prefix.size());
    if (!found.recorded_name.empty() && found.recorded_name != bare_name) {
      return Invalid(walk.path, absl::StrCat(kWeightsMember, ": group '", group_path, "/vars' records layer '",
                                             found.recorded_name, "', but config.json's layer at that place is '",
                                             bare_name, "' (", class_name, ")"));
    }
    if (walk.checkpoint_layout && !found.weights.empty()) unique_name(KerasSnakeCase(class_name));
    walk.claimed.insert(group_path);
    walk.assigned.push_back({name, std::move(group->second->weights), found.recorded_name});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KerasLayerWeights>> AssignVarsGroups(const json& config,
                                                                std::vector<KerasLayerWeights> groups,
                                                                const std::string& path) {
  Walk walk;
  walk.path = path;
  bool has_layers_root = false, has_checkpoint_root = false;
  for (KerasLayerWeights& group : groups) {
    has_layers_root |= absl::StartsWith(group.name, "layers/");
    has_checkpoint_root |= absl::StartsWith(group.name, "_layer_checkpoint_dependencies/");
    walk.by_path[group.name] = &group;
  }
  walk.checkpoint_layout = has_checkpoint_root && !has_layers_root;
  RETURN_IF_ERROR(
      AssignModel(config, walk.checkpoint_layout ? "_layer_checkpoint_dependencies/" : "layers/", "", walk));
  for (KerasLayerWeights& group : groups) {
    if (walk.claimed.count(group.name) == 0 && !group.weights.empty()) walk.assigned.push_back(std::move(group));
  }
  return std::move(walk.assigned);
}

}  // namespace

std::string KerasSnakeCase(absl::string_view class_name) {
  // Keras: re.sub(r"\W+", "", name); re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name);
  // re.sub("([a-z])([A-Z])", r"\1_\2", name).lower(). Each substitution scans
  // left to right and resumes after its match, as Python's re.sub does.
  std::string word;
  for (char c : class_name) {
    if (absl::ascii_isalnum(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80) word += c;
  }
  std::string split;
  for (size_t i = 0; i < word.size();) {
    size_t end = i + 2;
    if (i + 2 < word.size() && absl::ascii_isupper(word[i + 1]) && absl::ascii_islower(word[i + 2])) {
      while (end < word.size() && absl::ascii_islower(word[end])) ++end;
      absl::StrAppend(&split, word.substr(i, 1), "_", word.substr(i + 1, end - i - 1));
      i = end;
    } else {
      split += word[i++];
    }
  }
  std::string result;
  for (size_t i = 0; i < split.size();) {
    if (i + 1 < split.size() && absl::ascii_islower(split[i]) && absl::ascii_isupper(split[i + 1])) {
      absl::StrAppend(&result, split.substr(i, 1), "_", split.substr(i + 1, 1));
      i += 2;
    } else {
      result += split[i++];
    }
  }
  return absl::AsciiStrToLower(result);
}

absl::StatusOr<KerasH5File> ReadKerasArchive(const std::string& path, absl::Duration time_limit) {
  ASSIGN_OR_RETURN(ZipArchive archive, ZipArchive::Open(path));
  const ZipMember* config_member = archive.Find(kConfigMember);
  const ZipMember* weights_member = archive.Find(kWeightsMember);
  if (config_member == nullptr || weights_member == nullptr) {
    std::vector<std::string> names;
    for (const ZipMember& member : archive.members()) names.push_back(member.name);
    if (names.size() > 8) {
      names.resize(8);
      names.push_back("...");
    }
    const std::string present =
        absl::StrCat(" (it holds: ", names.empty() ? "nothing" : absl::StrJoin(names, ", "), ")");
    if (config_member == nullptr) {
      return Invalid(
          path, absl::StrCat("the archive has no ", kConfigMember, ", so it is not a Keras .keras model", present));
    }
    if (archive.Find("model.weights.npz") != nullptr) {
      return Invalid(path,
                     "the weights are stored as model.weights.npz, which is not supported; save with "
                     "Keras's default weights format (model.weights.h5)");
    }
    return Invalid(path, absl::StrCat("the archive has no ", kWeightsMember, present));
  }

  KerasH5File file;
  file.format = KerasFileFormat::kKeras;
  ASSIGN_OR_RETURN(file.model_config_json, archive.Read(*config_member, kMaxKerasConfigBytes));
  ASSIGN_OR_RETURN(json config, ParseJson(file.model_config_json, kConfigMember, path));
  // Keras always writes metadata.json; its loader does not need it, nor does this one.
  if (const ZipMember* metadata_member = archive.Find(kMetadataMember); metadata_member != nullptr) {
    ASSIGN_OR_RETURN(std::string text, archive.Read(*metadata_member, kMaxKerasConfigBytes));
    ASSIGN_OR_RETURN(json metadata, ParseJson(text, kMetadataMember, path));
    if (metadata.is_object() && metadata.contains("keras_version") && metadata["keras_version"].is_string()) {
      file.keras_version = metadata["keras_version"].get<std::string>();
    }
  }
  ASSIGN_OR_RETURN(std::string weights_image, archive.Read(*weights_member, kMaxWeightsMemberBytes));
  ASSIGN_OR_RETURN(std::vector<KerasLayerWeights> groups,
                   ReadKerasWeightsImage(weights_image, absl::StrCat(path, ": ", kWeightsMember), time_limit));
  ASSIGN_OR_RETURN(file.layers, AssignVarsGroups(config, std::move(groups), path));
  return file;
}

}  // namespace resnet8
