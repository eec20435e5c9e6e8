#include "server/keras/h5_direct_reader.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Walks HDF5's error stack and joins its descriptions, so that a Status can
// carry what HDF5 would otherwise print to stderr.
std::string TakeHdf5ErrorText() {
  std::vector<std::string> parts;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* error, void* data) -> herr_t {
        if (error->desc != nullptr && error->desc[0] != '\0') {
          static_cast<std::vector<std::string>*>(data)->push_back(error->desc);
        }
        return 0;
      },
      &parts);
  H5Eclear2(H5E_DEFAULT);
  if (parts.empty()) return "no detail from HDF5";
  if (parts.size() > 3) parts.resize(3);
  return absl::StrJoin(parts, ": ");
}

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  absl::StatusOr<KerasH5File> Read() {
    struct stat info;
    if (stat(path_.c_str(), &info) != 0) {
      return absl::NotFoundError(absl::StrCat(path_, ": no such file"));
    }
    if (!S_ISREG(info.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": not a regular file"));
    }
    if (info.st_size == 0) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": empty file, not a Keras .h5 model"));
    }
    htri_t is_hdf5 = H5Fis_hdf5(path_.c_str());
    H5Eclear2(H5E_DEFAULT);
    if (is_hdf5 <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": not an HDF5 file (no HDF5 signature), so not a Keras .h5 model"));
    }
    Handle file(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.valid()) {
      return Error("cannot open as HDF5 (truncated or corrupt?)");
    }

    KerasH5File result;
    ASSIGN_OR_RETURN(std::optional<std::string> config, ReadStringAttribute(file.get(), "model_config", "/"));
    if (!config.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_,
                       ": no root attribute 'model_config'; weights-only files (save_weights) "
                       "do not describe the graph and cannot be converted"));
    }
    result.model_config_json = std::move(*config);
    ASSIGN_OR_RETURN(std::optional<std::string> version, ReadStringAttribute(file.get(), "keras_version", "/"));
    result.keras_version = version.value_or("");
    ASSIGN_OR_RETURN(std::optional<std::string> backend, ReadStringAttribute(file.get(), "backend", "/"));
    result.backend = backend.value_or("");

    if (H5Lexists(file.get(), "model_weights", H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return absl::InvalidArgumentError(absl::StrCat(path_, ": no group 'model_weights'; the file holds no weights"));
    }
    Handle weights_group(H5Gopen2(file.get(), "model_weights", H5P_DEFAULT), H5Gclose);
    if (!weights_group.valid()) return Error("cannot open group 'model_weights'");
    ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> layer_names,
                     ReadStringListAttribute(weights_group.get(), "layer_names", "model_weights"));
    if (!layer_names.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": group 'model_weights' has no attribute 'layer_names'"));
    }
    for (const std::string& layer : *layer_names) {
      ASSIGN_OR_RETURN(KerasLayerWeights weights, ReadLayer(weights_group.get(), layer));
      result.layers.push_back(std::move(weights));
    }
    return result;
  }

  // See ReadKerasWeightsImage().
  absl::StatusOr<std::vector<KerasLayerWeights>> ReadWeightsImage(const std::string& image) {
    static constexpr char kSignature[] = "\x89HDF\r\n\x1a\n";
    if (image.size() < 8 || image.compare(0, 8, kSignature, 8) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": not an HDF5 file (no HDF5 signature)"));
    }
    // HDF5's core driver opens the bytes in place; nothing touches the disk.
    Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (!access.valid() || H5Pset_fapl_core(access.get(), 1 << 20, /*backing_store=*/0) < 0 ||
        H5Pset_file_image(access.get(), const_cast<char*>(image.data()), image.size()) < 0) {
      return Error("cannot open the bytes as an in-memory HDF5 file");
    }
    Handle file(H5Fopen("model.weights.h5", H5F_ACC_RDONLY, access.get()), H5Fclose);
    if (!file.valid()) return Error("cannot open as HDF5 (truncated or corrupt?)");
    std::vector<KerasLayerWeights> groups;
    for (const char* root : {"layers", "_layer_checkpoint_dependencies"}) {
      if (H5Lexists(file.get(), root, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        continue;
      }
      RETURN_IF_ERROR(CollectVarsGroups(file.get(), root, 0, groups));
    }
    return groups;
  }

 private:
  // Adds the `vars` group of `path` (if any) to `out`, then does the same for
  // every other group below it: nested models keep their layers there.
  absl::Status CollectVarsGroups(hid_t file, const std::string& path, int depth, std::vector<KerasLayerWeights>& out) {
    if (depth > 32) return absl::InvalidArgumentError(absl::StrCat(path_, ": groups nest too deep at '", path, "'"));
    Handle group(H5Gopen2(file, path.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.valid()) {
      H5Eclear2(H5E_DEFAULT);
      return absl::OkStatus();  // a dataset where a group could be: not Keras's, and not ours to read
    }
    ASSIGN_OR_RETURN(std::vector<std::string> children, ChildNames(group.get(), path));
    for (const std::string& child : children) {
      const std::string child_path = absl::StrCat(path, "/", child);
      if (child == "vars") {
        ASSIGN_OR_RETURN(KerasLayerWeights vars, ReadVarsGroup(file, path));
        out.push_back(std::move(vars));
      } else {
        RETURN_IF_ERROR(CollectVarsGroups(file, child_path, depth + 1, out));
      }
    }
    return absl::OkStatus();
  }

  // The names of a group's members, in HDF5's name order, at most 100,000 in
  // all the file's groups together.
  absl::StatusOr<std::vector<std::string>> ChildNames(hid_t group, const std::string& path) {
    struct Names {
      std::vector<std::string> names;
      int64_t* budget;
    } names{{}, &names_budget_};
    const herr_t status = H5Literate(
        group, H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
          auto* names = static_cast<Names*>(data);
          if (--*names->budget < 0) return -1;
          names->names.emplace_back(name);
          return 0;
        },
        &names);
    if (names_budget_ < 0) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": more than 100000 groups and variables"));
    }
    if (status < 0) return Error(absl::StrCat("cannot list group '", path, "'"));
    return std::move(names.names);
  }

  // One layer's variables: `path`/vars/0, 1, ... and the group's `name` attribute.
  absl::StatusOr<KerasLayerWeights> ReadVarsGroup(hid_t file, const std::string& path) {
    const std::string vars_path = absl::StrCat(path, "/vars");
    Handle vars(H5Gopen2(file, vars_path.c_str(), H5P_DEFAULT), H5Gclose);
    if (!vars.valid()) return Error(absl::StrCat("'", vars_path, "' is not a group"));
    KerasLayerWeights result;
    result.name = path;
    ASSIGN_OR_RETURN(std::optional<std::string> name, ReadStringAttribute(vars.get(), "name", vars_path));
    result.recorded_name = name.value_or("");
    ASSIGN_OR_RETURN(std::vector<std::string> children, ChildNames(vars.get(), vars_path));
    // Keras names the variables by their index; HDF5 lists "10" before "2".
    std::vector<std::string> ordered(children.size());
    for (const std::string& child : children) {
      size_t index = 0;
      const bool decimal = !child.empty() && child.size() <= 6 && (child == "0" || child[0] != '0') &&
                           child.find_first_not_of("0123456789") == std::string::npos;
      if (decimal) index = std::stoul(child);
      if (!decimal || index >= ordered.size() || !ordered[index].empty()) {
        return absl::InvalidArgumentError(absl::StrCat(path_, ": '", vars_path, "' holds '", child, "'; Keras names ",
                                                       "a layer's variables 0, 1, ... ", children.size() - 1));
      }
      ordered[index] = child;
    }
    for (const std::string& child : ordered) {
      const std::string variable = absl::StrCat(vars_path, "/", child);
      ASSIGN_OR_RETURN(KerasWeight weight,
                       ReadDataset(vars.get(), child, absl::StrCat("variable '", variable, "'"), variable));
      result.weights.push_back(std::move(weight));
    }
    return result;
  }

  absl::Status Error(absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", what, " (HDF5: ", TakeHdf5ErrorText(), ")"));
  }

  absl::StatusOr<KerasLayerWeights> ReadLayer(hid_t weights_group, const std::string& layer) {
    KerasLayerWeights result;
    result.name = layer;
    const std::string where = absl::StrCat("layer '", layer, "'");
    if (layer.empty() || H5Lexists(weights_group, layer.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": model_weights/layer_names lists '", layer, "' but there is no such group"));
    }
    Handle group(H5Gopen2(weights_group, layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.valid()) return Error(absl::StrCat("cannot open group of ", where));
    ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> weight_names,
                     ReadStringListAttribute(group.get(), "weight_names", where));
    for (const std::string& name : weight_names.value_or(std::vector<std::string>{})) {
      ASSIGN_OR_RETURN(KerasWeight weight, ReadWeight(group.get(), layer, name));
      result.weights.push_back(std::move(weight));
    }
    return result;
  }

  absl::StatusOr<KerasWeight> ReadWeight(hid_t group, const std::string& layer, const std::string& name) {
    const std::string where = absl::StrCat("layer '", layer, "' weight '", name, "'");
    if (name.empty() || H5Lexists(group, name.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      // H5Lexists fails on a missing intermediate group too; both mean missing.
      return absl::InvalidArgumentError(absl::StrCat(path_, ": ", where, " is listed in weight_names but not stored"));
    }
    return ReadDataset(group, name, where, name);
  }

  // Reads the float dataset `name` of `group` as the weight `stored_name`;
  // `where` says which one in messages.
  absl::StatusOr<KerasWeight> ReadDataset(hid_t group, const std::string& name, const std::string& where,
                                          const std::string& stored_name) {
    Handle dataset(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dataset.valid()) return Error(absl::StrCat("cannot open ", where));
    Handle type(H5Dget_type(dataset.get()), H5Tclose);
    if (!type.valid() || H5Tget_class(type.get()) != H5T_FLOAT) {
      H5Eclear2(H5E_DEFAULT);
      return absl::InvalidArgumentError(absl::StrCat(path_, ": ", where, " is not floating point"));
    }
    Handle space(H5Dget_space(dataset.get()), H5Sclose);
    int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    if (rank < 0 || rank > 8) {
      return Error(absl::StrCat(where, " has an unreadable or unsupported shape"));
    }
    std::vector<hsize_t> dims(rank);
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    KerasWeight weight;
    weight.name = stored_name;
    int64_t elements = 1;
    for (hsize_t dim : dims) {
      if (dim > static_cast<hsize_t>(kMaxWeightElements) || elements * static_cast<int64_t>(dim) > kMaxWeightElements) {
        return absl::InvalidArgumentError(
            absl::StrCat(path_, ": ", where, " is larger than the limit of ", kMaxWeightElements, " values"));
      }
      elements *= static_cast<int64_t>(dim);
      weight.shape.push_back(static_cast<int64_t>(dim));
    }
    total_elements_ += elements;
    if (total_elements_ > kMaxTotalWeightElements) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": weights exceed the limit of ", kMaxTotalWeightElements, " values in total"));
    }
    weight.values.resize(elements);
    if (elements > 0 &&
        H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, weight.values.data()) < 0) {
      return Error(absl::StrCat("cannot read ", where, " (truncated or corrupt file?)"));
    }
    for (int64_t i = 0; i < elements; ++i) {
      if (!std::isfinite(weight.values[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat(path_, ": ", where, " has a non-finite value (", weight.values[i], ") at flat index ", i));
      }
    }
    return weight;
  }

  // Reads a list of strings stored the way Keras's save_attributes_to_hdf5_group
  // stores it: in attribute `name`, or, when the list was too large for one
  // attribute header, split over `name0`, `name1`, ... Returns nullopt when
  // neither exists.
  absl::StatusOr<std::optional<std::vector<std::string>>> ReadStringListAttribute(hid_t object, const char* name,
                                                                                  absl::string_view where) {
    if (H5Aexists(object, name) > 0) return ReadStrings(object, name, where);
    H5Eclear2(H5E_DEFAULT);
    std::optional<std::vector<std::string>> joined;
    for (int chunk = 0;; ++chunk) {
      const std::string chunk_name = absl::StrCat(name, chunk);
      if (H5Aexists(object, chunk_name.c_str()) <= 0) break;
      ASSIGN_OR_RETURN(std::vector<std::string> part, ReadStrings(object, chunk_name.c_str(), where));
      if (!joined.has_value()) joined.emplace();
      joined->insert(joined->end(), part.begin(), part.end());
    }
    H5Eclear2(H5E_DEFAULT);
    return joined;
  }

  // Reads the strings of one existing attribute, whichever way a writer stored
  // them: a scalar or an array; fixed length (NUL- or space-padded) or
  // variable length; ASCII or UTF-8. h5py alone writes a Python str, bytes and
  // a numpy byte string as three different HDF5 types.
  absl::StatusOr<std::vector<std::string>> ReadStrings(hid_t object, const char* name, absl::string_view where) {
    const std::string what = absl::StrCat("attribute '", name, "' of ", where);
    Handle attribute(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    if (!attribute.valid()) return Error(absl::StrCat("cannot open ", what));
    Handle space(H5Aget_space(attribute.get()), H5Sclose);
    hssize_t count = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    if (count < 0 || count > 100000) {
      return Error(absl::StrCat(what, " has an unreadable or too large shape"));
    }
    std::vector<std::string> values;
    // h5py stores an empty list (a layer without weights) as a zero-length
    // float array: any type will do when there is nothing in it.
    if (count == 0) return values;
    Handle type(H5Aget_type(attribute.get()), H5Tclose);
    if (!type.valid() || H5Tget_class(type.get()) != H5T_STRING) {
      H5Eclear2(H5E_DEFAULT);
      return absl::InvalidArgumentError(absl::StrCat(path_, ": ", what, " is not a string"));
    }
    // The memory type must carry the file's character set: HDF5 has no
    // conversion between ASCII and UTF-8 strings, even for pure ASCII text.
    Handle memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_cset(memory_type.get(), H5Tget_cset(type.get()));
    if (H5Tis_variable_str(type.get()) > 0) {
      H5Tset_size(memory_type.get(), H5T_VARIABLE);
      std::vector<char*> buffer(count, nullptr);
      if (H5Aread(attribute.get(), memory_type.get(), buffer.data()) < 0) {
        return Error(absl::StrCat("cannot read ", what));
      }
      for (char* value : buffer) values.emplace_back(value == nullptr ? "" : value);
      H5Dvlen_reclaim(memory_type.get(), space.get(), H5P_DEFAULT, buffer.data());
      return values;
    }
    const size_t size = H5Tget_size(type.get());
    if (size == 0 || size > (size_t{1} << 26) / count) {
      return Error(absl::StrCat(what, " has an unreadable or too large size"));
    }
    const bool space_padded = H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD;
    H5Tset_size(memory_type.get(), size);
    H5Tset_strpad(memory_type.get(), H5Tget_strpad(type.get()));
    std::vector<char> buffer(size * count);
    if (H5Aread(attribute.get(), memory_type.get(), buffer.data()) < 0) {
      return Error(absl::StrCat("cannot read ", what));
    }
    for (hssize_t i = 0; i < count; ++i) {
      const char* begin = buffer.data() + i * size;
      size_t length = 0;
      while (length < size && begin[length] != '\0') ++length;  // NUL-terminated or -padded
      if (space_padded) {
        while (length > 0 && begin[length - 1] == ' ') --length;
      }
      values.emplace_back(begin, length);
    }
    return values;
  }

  absl::StatusOr<std::optional<std::string>> ReadStringAttribute(hid_t object, const char* name,
                                                                 absl::string_view where) {
    if (H5Aexists(object, name) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return std::nullopt;
    }
    ASSIGN_OR_RETURN(std::vector<std::string> values, ReadStrings(object, name, where));
    if (values.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": attribute '", name, "' of ", where, " holds ",
                                                     values.size(), " strings, expected one"));
    }
    return std::move(values.front());
  }

  std::string path_;
  int64_t total_elements_ = 0;
  int64_t names_budget_ = 100000;
};

}  // namespace

absl::StatusOr<KerasH5File> ReadKerasH5FileHere(const std::string& path) { return Reader(path).Read(); }

absl::StatusOr<std::vector<KerasLayerWeights>> ReadKerasWeightsImageHere(const std::string& image,
                                                                         const std::string& source) {
  return Reader(source).ReadWeightsImage(image);
}

}  // namespace resnet8
