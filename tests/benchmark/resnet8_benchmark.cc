// resnet8_benchmark: measures the service's speed side by side on one machine
// and build, and checks that every measured path still gives 8719/10000.
//
//   resnet8_benchmark --model=M.h5 --data=DIR [--json=FILE] [--sweep]
//
// (a) in-process forward() of the module as converted, the way a user would
//     call it: on the main thread, contiguous NCHW, whole batches, LibTorch's
//     default thread count, glibc's default malloc settings
// (b) the optimized in-process path the server uses
// (c) the full test set through EvaluateDataset over loopback (a real
//     resnet8_server process, found beside this program)
// (d) Classify latency p50/p99 for 1 and 32 images
// (e) server start to SERVING
// (f) the server's peak RSS (VmHWM) after a full evaluation
// (g) 8 concurrent clients sending single-image Classify calls
// (h) the Open Inference Protocol's ModelInfer at concurrency 1..16, one
//     image per request, perf_analyzer-style (infer_load.h)
// (p) with --peer_json: ONNX Runtime on the same model and images, and the ratios
// --sweep adds throughput over batch size x threads x folding x memory format.
#include <ATen/Parallel.h>
#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/evaluator_client.h"
#include "common/cifar10.h"
#include "common/classification_metrics.h"
#include "nlohmann/json.hpp"
#include "server/torch/malloc_tuning.h"
#include "server/torch/model_loader.h"
#include "server/torch/torch_classifier.h"
#include "server/torch/torchscript_builder.h"
#include "tests/benchmark/fma_peak.h"
#include "tests/benchmark/infer_load.h"
#include "tests/support/program_runner.h"

ABSL_FLAG(std::string, model, "../shared/models/pretrainedResnet.h5", "Keras .h5 model");
ABSL_FLAG(std::string, data, "../shared/data/cifar-10-batches-bin", "CIFAR-10 test set");
ABSL_FLAG(std::string, json, "", "also write the results as JSON here");
ABSL_FLAG(bool, sweep, false, "also sweep batch size x threads x folding x memory format");
ABSL_FLAG(int64_t, batch_size, 500, "images per request (c) and per Classify call (a), (b)");
ABSL_FLAG(std::string, peer_json, "",
          "ONNX Runtime's result on the same model and data (tests/benchmark/ort_peer.mjs), shown beside ours");
ABSL_FLAG(int, repeats, 3, "runs of each throughput measurement; the median is reported (the machine may be shared)");

namespace resnet8 {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kFlopsPerImage = 25.0e6;  // ~12.5 M multiply-accumulates

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Classifies `images` in batches; returns images/s and checks the count correct.
double Throughput(const TorchClassifier& classifier, const LabeledImages& images, int64_t batch, int64_t* correct) {
  std::vector<float> probabilities(batch * 10);
  ClassificationMetrics metrics(10);
  const auto start = Clock::now();
  for (int64_t begin = 0; begin < images.size(); begin += batch) {
    const int64_t n = std::min(batch, images.size() - begin);
    absl::Span<float> out = absl::MakeSpan(probabilities).subspan(0, n * 10);
    absl::Status status =
        classifier.Classify({absl::MakeConstSpan(images.pixels).subspan(begin * kImageBytes, n * kImageBytes), n,
                             PixelLayout::kChannelPlanar},
                            out);
    if (!status.ok()) {
      std::cerr << status << "\n";
      std::exit(1);
    }
    for (int64_t i = 0; i < n; ++i) {
      metrics.Add(images.labels[begin + i], Argmax(absl::MakeConstSpan(out).subspan(i * 10, 10))).IgnoreError();
    }
  }
  const double seconds = Seconds(start);
  if (correct != nullptr) *correct = metrics.correct();
  return images.size() / seconds;
}

// The median of `repeats` runs of `measure` (which returns images/s).
double Median(const std::function<double()>& measure) {
  std::vector<double> runs;
  for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_repeats)); ++i) runs.push_back(measure());
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

// (a): module.forward() on this thread, as a user would call it.
double PlainForwardThroughput(torch::jit::Module module, const LabeledImages& images, int64_t batch, int64_t* correct) {
  torch::NoGradGuard no_grad;
  ClassificationMetrics metrics(10);
  const auto start = Clock::now();
  for (int64_t begin = 0; begin < images.size(); begin += batch) {
    const int64_t n = std::min(batch, images.size() - begin);
    auto* data = const_cast<uint8_t*>(images.pixels.data()) + begin * kImageBytes;
    torch::Tensor x = torch::from_blob(data, {n, 3, 32, 32}, torch::kUInt8).to(torch::kFloat32);
    torch::Tensor p = module.forward({x}).toTensor().contiguous();
    for (int64_t i = 0; i < n; ++i) {
      metrics.Add(images.labels[begin + i], Argmax(absl::MakeConstSpan(p.data_ptr<float>() + i * 10, 10)))
          .IgnoreError();
    }
  }
  if (correct != nullptr) *correct = metrics.correct();
  return images.size() / Seconds(start);
}

LabeledImages FirstRecords(const LabeledImages& all, int64_t n) {
  std::vector<int64_t> indices(n);
  for (int64_t i = 0; i < n; ++i) indices[i] = i;
  return *SelectRecords(all, indices);
}

// The CPU as /proc/cpuinfo names it, and its FP32 peak as measured by an FMA
// loop (fma_peak.h). The nominal figure (two FMA units per core at the listed
// clock) is printed beside it only to show how far a VM can be from it.
struct Machine {
  std::string description;
  benchmark::FmaPeak peak;
};

Machine DescribeMachine() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown";
  double mhz = 0;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0 && model == "unknown") model = line.substr(line.find(':') + 2);
    if (line.rfind("cpu MHz", 0) == 0 && mhz == 0) mhz = std::stod(line.substr(line.find(':') + 2));
  }
  const benchmark::FmaPeak peak = benchmark::MeasureFmaPeak();
  const int per_cycle = peak.instructions == "AVX-512" ? 64 : 32;  // 2 units x 2 FLOP x 16 or 8 lanes
  return {
      absl::StrFormat("%s, %d cores at %.0f MHz, %s; measured FP32 peak %.1f GFLOP/s (%.1f on one core; an FMA loop), "
                      "nominal %.0f",
                      model, peak.cores, mhz, peak.instructions, peak.gflops_all_cores, peak.gflops_one_core,
                      peak.cores * mhz / 1000.0 * per_cycle),
      peak};
}

// A server process on a free port, and how long it took from spawn to
// health SERVING: conversion, self-check and listening, as a user waits.
struct StartedServer {
  std::unique_ptr<testing::ServerProcess> process;
  std::string address;
  double start_to_serving = 0;
};

StartedServer StartServer(const std::string& binary, const std::string& model) {
  StartedServer server;
  // The benchmark picks the port (bind, read, close) so that it can poll
  // health from the first moment without parsing logs.
  int port = 0;
  {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    close(fd);
  }
  server.address = absl::StrCat("127.0.0.1:", port);
  const auto start = Clock::now();
  server.process = testing::ServerProcess::Start({binary, "--model=" + model, "--address=" + server.address});
  // After a refused connection gRPC backs off reconnecting for a second or
  // more; each poll uses a fresh channel with its own subchannel pool, so the
  // measurement is the server's startup, not the backoff.
  while (Seconds(start) < 60) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    EvaluatorClient client(grpc::CreateCustomChannel(server.address, grpc::InsecureChannelCredentials(), arguments));
    auto health = client.CheckHealth("", absl::Milliseconds(200));
    if (health.ok() && *health == grpc::health::v1::HealthCheckResponse::SERVING) {
      server.start_to_serving = Seconds(start);
      return server;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::cerr << "server did not become SERVING:\n" << server.process->Output() << "\n";
  std::exit(1);
}

double PeakRssMb(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

std::pair<double, double> LatencyMs(const EvaluatorClient& client, const LabeledImages& images, int64_t count,
                                    int calls) {
  const ImageBatchView batch{absl::MakeConstSpan(images.pixels).subspan(0, count * kImageBytes), count,
                             PixelLayout::kChannelPlanar};
  for (int i = 0; i < 20; ++i) client.Classify(batch, absl::Seconds(10)).IgnoreError();  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    const auto start = Clock::now();
    if (!client.Classify(batch, absl::Seconds(10)).ok()) std::exit(1);
    ms.push_back(Seconds(start) * 1000);
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[static_cast<size_t>(ms.size() * 0.99)]};
}

// (g): `clients` threads each sending `calls` one-image Classify requests.
std::pair<double, double> ConcurrentSingles(const std::string& address, const LabeledImages& images, int clients,
                                            int calls) {
  std::vector<std::vector<double>> ms(clients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      EvaluatorClient client(EvaluatorClient::Connect(address));
      for (int k = 0; k < calls; ++k) {
        const int64_t i = (t * calls + k) % images.size();
        const auto begin = Clock::now();
        if (!client.Classify({images.image(i), 1, PixelLayout::kChannelPlanar}, absl::Seconds(10)).ok()) std::exit(1);
        ms[t].push_back(Seconds(begin) * 1000);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double rate = clients * calls / Seconds(start);
  std::vector<double> all;
  for (const auto& v : ms) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  return {rate, all[all.size() / 2]};
}

int Run(const std::string& self) {
  nlohmann::ordered_json json;
  const Machine machine = DescribeMachine();
  const double peak_gflops = machine.peak.gflops_all_cores;
  json["machine"] = machine.description;
  json["peak_gflops_one_core"] = machine.peak.gflops_one_core;
  json["libtorch"] = TORCH_VERSION;
  std::cout << "machine: " << machine.description << "\n";

  auto model = LoadKerasFile(absl::GetFlag(FLAGS_model), {});
  auto data = ReadCifar10(absl::GetFlag(FLAGS_data));
  if (!model.ok() || !data.ok()) {
    std::cerr << (model.ok() ? data.status() : model.status()) << "\n";
    return 1;
  }
  const LabeledImages& all = data->images;
  // The module as converted and with BatchNorm folded, both ending in probabilities.
  const TorchModuleOptions probabilities{.softmax_logits = true};
  const torch::jit::Module as_converted = *BuildTorchModule(model->keras, probabilities, model->path);
  const torch::jit::Module folded_module =
      *BuildTorchModule(model->keras, {.softmax_logits = true, .fold_batch_norm = true}, model->path);
  auto classifier_of = [&](const torch::jit::Module& module, const TorchClassifierOptions& options) {
    return TorchClassifier::Create(module, model->keras.InputShape(), 10, options);
  };
  const int default_threads = at::get_num_threads();
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  std::cout << "LibTorch " << TORCH_VERSION << " starts with " << default_threads << " intra-op thread(s) on " << cores
            << " cores\n";
  json["default_threads"] = default_threads;

  const int64_t batch = absl::GetFlag(FLAGS_batch_size);
  // (a) first, while malloc still has glibc's defaults.
  int64_t correct_a = 0, correct_b = 0;
  const double a =
      Median([&] { return PlainForwardThroughput(BuildConvertedModule(*model)->module, all, batch, &correct_a); });
  KeepFreedMemoryForReuse();  // as the server does, for everything after (a)
  auto folded = MakeServedClassifier(*model, /*optimized=*/true);

  if (absl::GetFlag(FLAGS_sweep)) {
    std::cout << "\nsweep: folded BatchNorm, images/s over 2,000 images (median of " << absl::GetFlag(FLAGS_repeats)
              << " runs)\n"
              << absl::StrFormat("%-8s %-14s %s\n", "threads", "memory format",
                                 "images per forward pass: 1 8 16 32 64 128 256 500");
    const LabeledImages sweep_images = FirstRecords(all, 2000), few = FirstRecords(all, 200);
    for (int threads : {1, cores}) {
      for (bool channels_last : {false, true}) {
        std::string line = absl::StrFormat("%-8d %-14s", threads, channels_last ? "channels-last" : "contiguous");
        for (int64_t b : {1, 8, 16, 32, 64, 128, 256, 500}) {
          TorchClassifierOptions options;
          options.channels_last = channels_last;
          options.max_forward_batch = b;
          options.pad_single_image = false;
          options.compute_threads = 1;  // one pass at a time, split over `threads`
          options.threads = threads;
          auto classifier = classifier_of(folded_module, options);
          const double rate =
              Median([&] { return Throughput(**classifier, b == 1 ? few : sweep_images, 500, nullptr); });
          absl::StrAppend(&line, absl::StrFormat(" %6.0f", rate));
          json["sweep"].push_back({{"threads", threads},
                                   {"channels_last", channels_last},
                                   {"forward_batch", b},
                                   {"images_per_second", rate}});
        }
        std::cout << line << "\n";
      }
    }
    // The server's arrangement: one compute thread per core, each running
    // whole passes on one OpenMP thread (a lone pass on every core).
    std::string line = absl::StrFormat("%-8s %-14s", absl::StrCat(cores, "x1"), "channels-last");
    for (int64_t b : {1, 8, 16, 32, 64, 128, 256, 500}) {
      TorchClassifierOptions options;
      options.max_forward_batch = b;
      auto classifier = classifier_of(folded_module, options);
      const double rate = Median([&] { return Throughput(**classifier, b == 1 ? few : sweep_images, 500, nullptr); });
      absl::StrAppend(&line, absl::StrFormat(" %6.0f", rate));
      json["sweep"].push_back({{"compute_threads", cores}, {"forward_batch", b}, {"images_per_second", rate}});
    }
    std::cout << line << "  (compute threads x OpenMP threads: the server's default)\n";
  }

  // (b) what the server runs.
  const double b = Median([&] { return Throughput(*folded->classifier, all, batch, &correct_b); });

  // Each lever of (b) taken away in turn.
  std::cout << "\nablation: the optimized path with one lever taken away (images/s, median of "
            << absl::GetFlag(FLAGS_repeats) << ")\n";
  auto ablate = [&](const char* name, bool fold, TorchClassifierOptions options) {
    auto classifier = classifier_of(fold ? folded_module : as_converted, options);
    const double rate = Median([&] { return Throughput(**classifier, all, batch, nullptr); });
    std::cout << absl::StrFormat("  %-44s %6.0f  (%.2fx of optimized)\n", name, rate, rate / b);
    json["ablation"][name] = rate;
  };
  TorchClassifierOptions o;
  ablate("BatchNorm not folded", false, o);
  o = {};
  o.serving_rewrites = false;
  ablate("module as built: aten::conv2d, ReLU and Add apart", true, o);
  o = {};
  o.channels_last = false;
  ablate("contiguous (NCHW) instead of channels-last", true, o);
  o = {};
  o.max_forward_batch = 0;
  ablate("whole 500-image batches in one pass", true, o);
  o = {};
  o.compute_threads = 1;
  ablate("1 inference thread, its passes split over the cores", true, o);
  o.threads = 1;
  ablate("1 inference thread of 1 OpenMP thread", true, o);
  o = {};
  o.max_forward_batch = 1;
  o.pad_single_image = false;
  const LabeledImages few = FirstRecords(all, 300);
  {
    auto unpadded = classifier_of(folded_module, o);
    o.pad_single_image = true;
    auto padded = classifier_of(folded_module, o);
    o.pad_single_image = false;
    o.threads = 1;
    auto one_thread = classifier_of(folded_module, o);
    const double alone = Median([&] { return Throughput(**unpadded, few, 1, nullptr); });
    const double doubled = Median([&] { return Throughput(**padded, few, 1, nullptr); });
    const double single = Median([&] { return Throughput(**one_thread, few, 1, nullptr); });
    std::cout << absl::StrFormat(
        "  single images: unpadded %.0f images/s, padded to 2 %.0f (%.2fx of unpadded), on one OpenMP thread %.0f "
        "(%.2fx)\n",
        alone, doubled, doubled / alone, single, single / alone);
    json["single_image"] = {{"padded", doubled}, {"unpadded", alone}, {"one_thread", single}};
  }

  // (c)-(f) against a real server process.
  const std::string server_binary = self.substr(0, self.rfind('/') + 1) + "resnet8_server";
  StartedServer server = StartServer(server_binary, absl::GetFlag(FLAGS_model));
  EvaluatorClient client(EvaluatorClient::Connect(server.address));
  EvaluateOptions options;
  options.batch_size = batch;
  absl::StatusOr<EvaluationResult> wire;
  const double c = Median([&] {
    wire = client.Evaluate(all, options);
    if (!wire.ok()) {
      std::cerr << wire.status() << "\n";
      server.process.reset();  // kills it
      std::exit(1);
    }
    return all.size() / wire->seconds;
  });
  const double rss = PeakRssMb(server.process->pid());
  const auto [p50_1, p99_1] = LatencyMs(client, all, 1, 500);
  const auto [p50_32, p99_32] = LatencyMs(client, all, 32, 200);
  const auto [concurrent_rate, concurrent_p50] = ConcurrentSingles(server.address, all, 8, 150);
  const std::vector<InferLoadLevel> load = MeasureInferLoad(server.address, "resnet8", all, {1, 2, 4, 8, 16}, 5.0);
  server.process->Signal(SIGTERM);
  const bool server_stopped_cleanly = server.process->Wait(absl::Seconds(30)).ExitedWith(0);
  if (!server_stopped_cleanly) std::cerr << "the server did not exit 0 after SIGTERM\n";

  auto row = [&](const char* name, double rate, int64_t correct) {
    std::cout << absl::StrFormat("%-52s %8.0f images/s %6.1f GFLOP/s (%4.1f%% of peak) %5.2fx of (a)  %d/10000\n", name,
                                 rate, rate * kFlopsPerImage / 1e9, 100 * rate * kFlopsPerImage / 1e9 / peak_gflops,
                                 rate / a, correct);
  };
  std::cout << "\n";
  row("(a) in process, module as converted, plain forward()", a, correct_a);
  row(absl::StrFormat("(b) in process, optimized, %d threads", cores).c_str(), b, correct_b);
  row(absl::StrFormat("(c) EvaluateDataset over loopback, %d per request", batch).c_str(), c, wire->metrics.correct());
  std::cout << absl::StrFormat("    (c) is %.1f%% of (b)\n", 100 * c / b)
            << absl::StrFormat(
                   "(d) Classify latency: 1 image p50 %.2f ms, p99 %.2f ms; 32 images p50 %.2f ms, p99 %.2f ms\n",
                   p50_1, p99_1, p50_32, p99_32)
            << absl::StrFormat(
                   "(g) 8 clients sending 1-image Classify at once: %.0f images/s, p50 %.2f ms "
                   "(dynamic batching merges what waits)\n",
                   concurrent_rate, concurrent_p50)
            << absl::StrFormat("(e) server start to SERVING: %.2f s\n", server.start_to_serving)
            << absl::StrFormat("(f) server peak RSS after a full evaluation: %.0f MB\n", rss);
  json["a_in_process_as_converted"] = {
      {"images_per_second", a}, {"correct", correct_a}, {"threads", default_threads}, {"batch", batch}};
  json["b_in_process_optimized"] = {
      {"images_per_second", b}, {"correct", correct_b}, {"threads", cores}, {"batch", batch}};
  json["c_evaluate_dataset_loopback"] = {
      {"images_per_second", c}, {"correct", wire->metrics.correct()}, {"batch", batch}};
  json["d_classify_latency_ms"] = {
      {"one_p50", p50_1}, {"one_p99", p99_1}, {"thirty_two_p50", p50_32}, {"thirty_two_p99", p99_32}};
  json["g_concurrent_single_classify"] = {
      {"clients", 8}, {"images_per_second", concurrent_rate}, {"p50_ms", concurrent_p50}};
  if (const std::string path = absl::GetFlag(FLAGS_peer_json); !path.empty()) {
    std::ifstream in(path);
    const nlohmann::json peer = nlohmann::json::parse(in, nullptr, false);
    if (peer.is_discarded() || !peer.contains("images_per_second")) {
      std::cerr << "cannot read the peer's result from " << path << "\n";
      return 1;
    }
    const double p = peer["images_per_second"].get<double>();
    row(absl::StrFormat("(p) ONNX Runtime %s in process, %d threads, %d per run",
                        peer["ort_version"].get<std::string>(), peer["threads"].get<int>(), peer["batch"].get<int>())
            .c_str(),
        p, peer["correct"].get<int64_t>());
    std::cout << absl::StrFormat("    peer ratios: (b) is %.2fx of ONNX Runtime, (c) is %.2fx\n", b / p, c / p);
    json["p_onnx_runtime_in_process"] = peer;
    json["ratios_to_onnx_runtime"] = {{"b_in_process", b / p}, {"c_evaluate_dataset", c / p}};
  }
  std::cout << "(h) ModelInfer (Open Inference Protocol), 1 image per request, 5 s per level:\n"
            << "    concurrency  infer/s   p50 ms   p90 ms   p99 ms   server queue ms  compute ms  errors\n";
  for (const InferLoadLevel& level : load) {
    std::cout << absl::StrFormat("    %11d %8.0f %8.2f %8.2f %8.2f %17.2f %11.2f %7d\n", level.concurrency,
                                 level.inferences_per_second, level.p50_ms, level.p90_ms, level.p99_ms, level.queue_ms,
                                 level.compute_ms, level.errors);
    json["h_model_infer_load"].push_back({{"concurrency", level.concurrency},
                                          {"inferences_per_second", level.inferences_per_second},
                                          {"p50_ms", level.p50_ms},
                                          {"p90_ms", level.p90_ms},
                                          {"p99_ms", level.p99_ms},
                                          {"server_queue_ms", level.queue_ms},
                                          {"server_compute_ms", level.compute_ms},
                                          {"errors", level.errors}});
  }
  json["e_start_to_serving_seconds"] = server.start_to_serving;
  json["f_server_peak_rss_mb"] = rss;
  json["flops_per_image"] = kFlopsPerImage;
  json["peak_gflops"] = peak_gflops;
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) std::ofstream(path) << json.dump(2) << "\n";
  const bool all_correct = correct_a == 8719 && correct_b == 8719 && wire->metrics.correct() == 8719;
  int64_t load_errors = 0;
  for (const InferLoadLevel& level : load) load_errors += level.errors;
  if (load_errors > 0) std::cerr << load_errors << " ModelInfer calls failed under load\n";
  if (!all_correct) std::cerr << "a measured path lost accuracy\n";
  return all_correct && server_stopped_cleanly && load_errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace resnet8

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return resnet8::Run(argv[0]);
}
