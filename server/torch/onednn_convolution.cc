#include "server/torch/onednn_convolution.h"

#include <string>
#include <unordered_map>
#include <utility>

#include "oneapi/dnnl/dnnl.hpp"

namespace resnet8 {
namespace {

using dnnl::memory;

const dnnl::engine& CpuEngine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::desc Nhwc(at::IntArrayRef sizes) {
  return memory::desc(memory::dims(sizes.begin(), sizes.end()), memory::data_type::f32, memory::format_tag::nhwc);
}

// oneDNN throws dnnl::error; callers of a LibTorch op expect c10::Error.
template <typename Work>
auto OrTorchError(const char* what, Work work) {
  try {
    return work();
  } catch (const dnnl::error& e) {
    TORCH_CHECK(false, "oneDNN convolution: ", what, ": ", e.what());
  }
}

at::Tensor RunOp(const at::Tensor& input, const c10::optional<at::Tensor>& residual,
                 const c10::intrusive_ptr<Conv2dContext>& context) {
  return context->Run(input, residual.has_value() ? &*residual : nullptr);
}

TORCH_LIBRARY(resnet8, library) {
  library.class_<Conv2dContext>("Conv2dContext");
  library.def("conv2d(Tensor input, Tensor? residual, __torch__.torch.classes.resnet8.Conv2dContext context) -> Tensor",
              &RunOp);
}

}  // namespace

struct Conv2dContext::Compiled {
  std::vector<int64_t> input_sizes;
  bool sum = false;
  bool relu = false;
  std::vector<int64_t> output_sizes;
  dnnl::convolution_forward primitive;
  memory weights;  // in the primitive's layout; shared by shapes that want the same
  memory::desc scratchpad;
};

Conv2dContext::Conv2dContext(Conv2dSpec spec) : spec_(std::move(spec)) {
  const at::Tensor& w = spec_.weight;
  TORCH_CHECK(w.scalar_type() == at::kFloat && w.dim() == 4, "Conv2dContext: weights must be float32 of rank 4");
  TORCH_CHECK(spec_.groups >= 1 && w.size(0) % spec_.groups == 0, "Conv2dContext: ", w.size(0), " output channels in ",
              spec_.groups, " groups");
  TORCH_CHECK(!spec_.bias.has_value() || (spec_.bias->scalar_type() == at::kFloat && spec_.bias->numel() == w.size(0)),
              "Conv2dContext: the bias must be float32, one per output channel");
  for (int d = 0; d < 2; ++d) {
    TORCH_CHECK(
        spec_.stride[d] >= 1 && spec_.dilation[d] >= 1 && spec_.padding_before[d] >= 0 && spec_.padding_after[d] >= 0,
        "Conv2dContext: strides and dilations must be positive, paddings not negative");
  }
}

Conv2dContext::~Conv2dContext() = default;

std::shared_ptr<const Conv2dContext::Compiled> Conv2dContext::Compile(const at::IntArrayRef input_sizes, bool sum,
                                                                      bool relu) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = compiled_.begin(); it != compiled_.end(); ++it) {
    if ((*it)->input_sizes == input_sizes && (*it)->sum == sum && (*it)->relu == relu) {
      std::shared_ptr<const Compiled> found = *it;
      compiled_.erase(it);
      compiled_.push_back(found);
      return found;
    }
  }
  const at::Tensor& w = spec_.weight;
  const int64_t groups = spec_.groups;
  auto compiled = std::make_shared<Compiled>();
  compiled->input_sizes = input_sizes.vec();
  compiled->sum = sum;
  compiled->relu = relu;
  compiled->output_sizes = OutputSizes(input_sizes);
  // Torch's [out, in / groups, h, w] weights are oneDNN's oihw, or goihw
  // once the output channels are split by group.
  const memory::desc user_weights =
      groups == 1
          ? memory::desc({w.size(0), w.size(1), w.size(2), w.size(3)}, memory::data_type::f32, memory::format_tag::oihw)
          : memory::desc({groups, w.size(0) / groups, w.size(1), w.size(2), w.size(3)}, memory::data_type::f32,
                         memory::format_tag::goihw);
  OrTorchError("compiling", [&] {
    const memory::desc any_weights(user_weights.dims(), memory::data_type::f32, memory::format_tag::any);
    const memory::dims strides = {spec_.stride[0], spec_.stride[1]};
    const memory::dims dilates = {spec_.dilation[0] - 1, spec_.dilation[1] - 1};  // oneDNN counts the gaps
    const memory::dims before = {spec_.padding_before[0], spec_.padding_before[1]};
    const memory::dims after = {spec_.padding_after[0], spec_.padding_after[1]};
    const memory::desc src = Nhwc(input_sizes);
    const memory::desc dst = Nhwc(compiled->output_sizes);
    const auto kind = dnnl::prop_kind::forward_inference;
    const auto direct = dnnl::algorithm::convolution_direct;
    const dnnl::convolution_forward::desc desc =
        spec_.bias.has_value()
            ? dnnl::convolution_forward::desc(kind, direct, src, any_weights,
                                              memory::desc({w.size(0)}, memory::data_type::f32, memory::format_tag::x),
                                              dst, strides, dilates, before, after)
            : dnnl::convolution_forward::desc(kind, direct, src, any_weights, dst, strides, dilates, before, after);
    dnnl::post_ops post_ops;
    if (sum) post_ops.append_sum(1.0f);
    if (relu) post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(post_ops);
    // Each call brings its own scratchpad: the two compute threads run the
    // same primitive at once.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, CpuEngine());
    compiled->primitive = dnnl::convolution_forward(pd);
    compiled->scratchpad = pd.scratchpad_desc();
    for (const auto& other : compiled_) {
      if (other->weights.get_desc() == pd.weights_desc()) compiled->weights = other->weights;
    }
    if (!compiled->weights) {
      compiled->weights = memory(pd.weights_desc(), CpuEngine());
      memory user(user_weights, CpuEngine(), w.contiguous().data_ptr());
      dnnl::stream stream(CpuEngine());
      dnnl::reorder(user, compiled->weights).execute(stream, user, compiled->weights);
      stream.wait();
    }
  });
  if (compiled_.size() >= kMaxCompiledShapes) compiled_.erase(compiled_.begin());
  compiled_.push_back(compiled);
  return compiled;
}

std::vector<int64_t> Conv2dContext::OutputSizes(at::IntArrayRef input_sizes) const {
  const at::Tensor& w = spec_.weight;
  TORCH_CHECK(input_sizes.size() == 4 && input_sizes[1] == w.size(1) * spec_.groups,
              "oneDNN convolution: input of shape ", input_sizes, " for weights of shape ", w.sizes(), " in ",
              spec_.groups, " groups");
  std::vector<int64_t> sizes = {input_sizes[0], w.size(0), 0, 0};
  for (int d = 0; d < 2; ++d) {
    const int64_t span = spec_.dilation[d] * (w.size(2 + d) - 1) + 1;
    const int64_t padded = input_sizes[2 + d] + spec_.padding_before[d] + spec_.padding_after[d];
    TORCH_CHECK(padded >= span, "oneDNN convolution: input of shape ", input_sizes,
                " is smaller than the kernel of shape ", w.sizes());
    sizes[2 + d] = (padded - span) / spec_.stride[d] + 1;
  }
  return sizes;
}

at::Tensor Conv2dContext::Execute(const at::Tensor& input, bool relu, const at::Tensor* sum_into) {
  const at::Tensor src = input.contiguous(at::MemoryFormat::ChannelsLast);
  const std::shared_ptr<const Compiled> compiled = Compile(src.sizes(), sum_into != nullptr, relu);
  const at::Tensor dst = sum_into != nullptr ? *sum_into
                                             : at::empty(compiled->output_sizes,
                                                         src.options().memory_format(at::MemoryFormat::ChannelsLast));
  const at::Tensor scratchpad =
      at::empty({static_cast<int64_t>(compiled->scratchpad.get_size())}, src.options().dtype(at::kByte));
  OrTorchError("running", [&] {
    const dnnl::engine& engine = CpuEngine();
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, memory(Nhwc(src.sizes()), engine, src.data_ptr())},
        {DNNL_ARG_WEIGHTS, compiled->weights},
        {DNNL_ARG_DST, memory(Nhwc(dst.sizes()), engine, dst.data_ptr())},
        {DNNL_ARG_SCRATCHPAD, memory(compiled->scratchpad, engine, scratchpad.data_ptr())}};
    if (spec_.bias.has_value()) {
      args.emplace(DNNL_ARG_BIAS,
                   memory(memory::desc({spec_.bias->numel()}, memory::data_type::f32, memory::format_tag::x), engine,
                          spec_.bias->data_ptr()));
    }
    // A stream per thread: oneDNN runs the primitive on the caller's OpenMP team.
    thread_local dnnl::stream stream(engine);
    compiled->primitive.execute(stream, args);
    stream.wait();
  });
  return dst;
}

at::Tensor Conv2dContext::Run(const at::Tensor& input, const at::Tensor* residual) {
  TORCH_CHECK(input.scalar_type() == at::kFloat && input.dim() == 4,
              "oneDNN convolution: the input must be float32 of rank 4, not ", input.scalar_type(), " of shape ",
              input.sizes());
  if (residual == nullptr) return Execute(input, spec_.relu, nullptr);
  const at::Tensor& r = *residual;
  const std::vector<int64_t> out = OutputSizes(input.sizes());
  if (r.scalar_type() == at::kFloat && r.sizes() == at::IntArrayRef(out)) {
    const bool reuse =
        spec_.overwrite_residual && r.is_contiguous(at::MemoryFormat::ChannelsLast) && !r.is_alias_of(input);
    at::Tensor sum = r;
    if (!reuse) {
      sum = at::empty(out, r.options().memory_format(at::MemoryFormat::ChannelsLast));
      sum.copy_(r);
    }
    return Execute(input, spec_.relu, &sum);
  }
  // Broadcast or another type: aten's add, as the graph had it.
  at::Tensor result = at::add(Execute(input, false, nullptr), r);
  return spec_.relu ? result.relu_() : result;
}

c10::Symbol Conv2dOp() { return c10::Symbol::fromQualString("resnet8::conv2d"); }

}  // namespace resnet8
