// The real server program under load and faults, driven through the real
// client library over loopback: 16 concurrent evaluations plus a stream of
// Classify calls, a client killed mid-stream, a server SIGKILLed and
// restarted mid-evaluation, three replicas sharing an evaluation while one
// of them is killed, and three replicas found through one DNS name.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/evaluator_client.h"
#include "common/cifar10.h"
#include "httplib.h"
#include "tests/support/dns_stub.h"
#include "tests/support/program_runner.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

using testing::ProgramPath;
using testing::ServerProcess;

const CifarDataset& Data() {
  static const CifarDataset* data = [] {
    auto read = ReadCifar10(testing::SharedDataDir());
    if (!read.ok()) {
      std::cerr << read.status() << "\n";
      std::abort();
    }
    return new CifarDataset(std::move(*read));
  }();
  return *data;
}

LabeledImages FirstImages(int64_t count) {
  std::vector<int64_t> indices(count);
  for (int64_t i = 0; i < count; ++i) indices[i] = i;
  return *SelectRecords(Data().images, indices);
}

std::unique_ptr<ServerProcess> StartServer(const std::string& address, std::vector<std::string> flags = {}) {
  std::vector<std::string> argv = {ProgramPath("resnet8_server"), "--model=" + testing::SharedModelPath(),
                                   "--address=" + address};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return ServerProcess::Start(argv);
}

// One value from a server's /metrics (0 if absent, -1 if unreachable).
int64_t ScrapeValue(const std::string& metrics_address, const std::string& series) {
  const size_t colon = metrics_address.rfind(':');
  httplib::Client http(metrics_address.substr(0, colon), std::stoi(metrics_address.substr(colon + 1)));
  httplib::Result result = http.Get("/metrics");
  if (!result) return -1;
  const size_t at = result->body.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stoll(result->body.substr(at + series.size() + 2));
}
int64_t ImagesEvaluated(const std::string& metrics_address) {
  return ScrapeValue(metrics_address, "resnet8_images_classified_total{method=\"EvaluateDataset\",model=\"resnet8\"}");
}
int64_t StreamsInFlight(const std::string& metrics_address) {
  return ScrapeValue(metrics_address, "resnet8_evaluate_streams_in_flight");
}

// HOST:PORT of a server's /metrics, from its "metrics on http://HOST:PORT/metrics" line.
absl::StatusOr<std::string> MetricsAddress(const ServerProcess& server) {
  static constexpr char kMarker[] = "metrics on http://";
  const std::string log = server.Output();
  const size_t at = log.find(kMarker);
  if (at == std::string::npos) return absl::InternalError("no 'metrics on' line in:\n" + log);
  const size_t begin = at + sizeof(kMarker) - 1;
  return log.substr(begin, log.find("/metrics", begin) - begin);
}

void ExpectSamePredictions(const EvaluationResult& got, const EvaluationResult& want, const std::string& who) {
  ASSERT_EQ(got.predictions.size(), want.predictions.size()) << who;
  EXPECT_EQ(got.metrics, want.metrics) << who;
  for (size_t i = 0; i < want.predictions.size(); ++i) {
    ASSERT_EQ(got.predictions[i].index, want.predictions[i].index) << who;
    ASSERT_EQ(got.predictions[i].probabilities, want.predictions[i].probabilities) << who << " record " << i;
  }
}

struct LoadRound {
  int classify_calls = 0;
  int64_t peak_kib = 0;
};

// 16 evaluations of `images` at once, each on its own channel as separate
// client processes would be, plus Classify calls of one image until they end.
// Every answer must equal the serial run's. With `probe_limit`, a 17th stream
// is tried while all 16 run and must be refused at once.
LoadRound RunLoadRound(const std::string& address, ServerProcess& server, const LabeledImages& images,
                       const EvaluateOptions& options, const EvaluationResult& serial, bool probe_limit) {
  constexpr int kStreams = 16;
  LoadRound round;
  std::vector<absl::StatusOr<EvaluationResult>> results(kStreams);
  std::atomic<int> started{0}, finished{0};
  std::vector<std::thread> evaluators;
  for (int k = 0; k < kStreams; ++k) {
    evaluators.emplace_back([&, k] {
      EvaluateOptions mine = options;
      bool counted = false;
      mine.on_progress = [&](int64_t, int64_t) {
        if (!counted) started += 1;
        counted = true;
      };
      results[k] = EvaluatorClient(EvaluatorClient::Connect(address)).Evaluate(images, mine);
      finished += 1;
    });
  }
  std::atomic<int> classify_calls{0}, classify_errors{0}, classify_wrong{0};
  absl::Status first_classify_error;  // written by the one Classify thread, read after it joined
  std::thread classifier([&] {
    EvaluatorClient own(EvaluatorClient::Connect(address));
    const ImageBatchView one{images.image(7), 1, PixelLayout::kChannelPlanar};
    while (finished < kStreams) {
      absl::StatusOr<v1::ClassifyResponse> answer = own.Classify(one, absl::Seconds(30));
      classify_calls += 1;
      if (!answer.ok()) {
        if (classify_errors == 0) first_classify_error = answer.status();
        classify_errors += 1;
        continue;
      }
      const auto& p = answer->predictions(0).probabilities();
      if (std::vector<float>(p.begin(), p.end()) != serial.predictions[7].probabilities) classify_wrong += 1;
    }
  });
  if (probe_limit) {
    while (started < kStreams && finished == 0) absl::SleepFor(absl::Milliseconds(5));
    if (finished == 0) {
      const absl::Time asked = absl::Now();
      EXPECT_STATUS(EvaluatorClient(EvaluatorClient::Connect(address)).Evaluate(images, options),
                    absl::StatusCode::kResourceExhausted, "");
      EXPECT_LT(absl::Now() - asked, absl::Seconds(2)) << "a refusal must be quick, not a queue";
    } else {
      ADD_FAILURE() << "an evaluation finished before all 16 had started; make the work larger";
    }
  }
  while (finished < kStreams) {
    round.peak_kib = std::max(round.peak_kib, server.ResidentKiB());
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (std::thread& t : evaluators) t.join();
  classifier.join();
  for (int k = 0; k < kStreams; ++k) {
    EXPECT_TRUE(results[k].ok()) << "stream " << k << ": " << results[k].status();
    if (results[k].ok()) ExpectSamePredictions(*results[k], serial, absl::StrCat("stream ", k));
  }
  EXPECT_EQ(classify_errors.load(), 0) << "the first: " << first_classify_error;
  EXPECT_EQ(classify_wrong.load(), 0);
  EXPECT_GT(classify_calls.load(), 0);
  round.classify_calls = classify_calls;
  return round;
}

TEST(Resilience, SixteenEvaluationsAndClassifyCallsHoldUnderLoad) {
  auto server = StartServer("127.0.0.1:0", {"--max_concurrent_streams=16"});
  ASSERT_OK_AND_ASSIGN(const std::string address, server->WaitUntilListening(absl::Seconds(60)));
  const LabeledImages images = FirstImages(1000);
  EvaluateOptions options;
  options.batch_size = 100;
  options.reconnect_budget = absl::ZeroDuration();  // any error counts
  // One stream per evaluation from first batch to last: with turnover, the
  // 17th stream could take a slot in the gap between two of them.
  options.batches_per_stream = 0;
  ASSERT_OK_AND_ASSIGN(const EvaluationResult serial,
                       EvaluatorClient(EvaluatorClient::Connect(address)).Evaluate(images, options));
  const int64_t baseline_kib = server->ResidentKiB();

  // Three rounds: memory must settle, not grow with every round as a leak
  // would. glibc keeps freed memory for reuse (malloc_tuning.h), so "near the
  // baseline" means within the allocator's cache, measured at 35-55 MiB.
  constexpr int64_t kSlackKib = 96 * 1024;
  std::string trace;
  for (int round = 0; round < 3; ++round) {
    const LoadRound load = RunLoadRound(address, *server, images, options, serial, /*probe_limit=*/round == 0);
    absl::SleepFor(absl::Seconds(1));
    const int64_t after_kib = server->ResidentKiB();
    absl::StrAppend(&trace, round == 0 ? "" : "; ", "round ", round + 1, ": ", load.classify_calls,
                    " Classify calls, peak ", load.peak_kib / 1024, " MiB, after ", after_kib / 1024, " MiB");
    EXPECT_LT(after_kib, baseline_kib + kSlackKib) << "round " << round + 1 << ": memory did not settle";
  }
  std::cout << "load: 16 x " << images.size() << " images per round, 0 errors; server RSS " << baseline_kib / 1024
            << " MiB before; " << trace << "\n";

  server->Signal(SIGTERM);
  EXPECT_TRUE(server->Wait(absl::Seconds(30)).ExitedWith(0));
}

TEST(Resilience, AKilledClientFreesItsStreamAndTheServerServesOthers) {
  auto server = StartServer("127.0.0.1:0", {"--max_concurrent_streams=1", "--metrics_address=127.0.0.1:0"});
  ASSERT_OK_AND_ASSIGN(const std::string address, server->WaitUntilListening(absl::Seconds(60)));
  ASSERT_OK_AND_ASSIGN(const std::string metrics, MetricsAddress(*server));
  // A client process evaluating the whole set, one image per batch (slow).
  auto client_process = ServerProcess::Start({ProgramPath("resnet8_client"), "evaluate", "--server=" + address,
                                              "--data=" + testing::SharedDataDir(), "--batch_size=1",
                                              "--batches_per_stream=0", "--reconnect_seconds=0"});
  EvaluatorClient client(EvaluatorClient::Connect(address));
  const LabeledImages images = FirstImages(50);
  EvaluateOptions options;
  options.reconnect_budget = absl::ZeroDuration();
  // Once its stream has answers it holds the only slot. The server's own
  // counters say so; the client's progress lines would depend on its speed
  // (under ASan on a busy machine, 1,000 images took over a minute).
  absl::Time give_up = absl::Now() + absl::Seconds(120);
  while (!(StreamsInFlight(metrics) == 1 && ImagesEvaluated(metrics) > 0) && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(StreamsInFlight(metrics), 1) << client_process->Output();
  ASSERT_GT(ImagesEvaluated(metrics), 0) << client_process->Output();
  EXPECT_STATUS(client.Evaluate(images, options), absl::StatusCode::kResourceExhausted, "");

  client_process->Signal(SIGKILL);
  client_process->Wait(absl::Seconds(10));
  // The server sees the connection drop and frees the slot.
  give_up = absl::Now() + absl::Seconds(10);
  while (StreamsInFlight(metrics) != 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(StreamsInFlight(metrics), 0) << "the killed client's stream was not freed";
  absl::StatusOr<EvaluationResult> after = client.Evaluate(images, options);
  ASSERT_OK(after);
  EXPECT_EQ(after->metrics.images(), 50);
  server->Signal(SIGTERM);
  EXPECT_TRUE(server->Wait(absl::Seconds(30)).ExitedWith(0));
}

TEST(Resilience, AnEvaluationSurvivesAServerKilledAndRestarted) {
  auto server = StartServer("127.0.0.1:0");
  ASSERT_OK_AND_ASSIGN(const std::string address, server->WaitUntilListening(absl::Seconds(60)));
  const LabeledImages& images = Data().images;
  EvaluateOptions options;
  options.batch_size = 100;
  EvaluatorClient client(EvaluatorClient::Connect(address));
  ASSERT_OK_AND_ASSIGN(const EvaluationResult uninterrupted, client.Evaluate(images, options));
  ASSERT_EQ(uninterrupted.metrics.correct(), 8719);

  std::atomic<bool> killed{false};
  options.on_progress = [&](int64_t done, int64_t) {
    if (done >= 3000 && !killed.exchange(true)) kill(server->pid(), SIGKILL);
  };
  absl::StatusOr<EvaluationResult> survived;
  std::thread run([&] { survived = client.Evaluate(images, options); });
  while (!killed) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_TRUE(server->Wait(absl::Seconds(10)).signal == SIGKILL);
  // What compose's restart policy does: start it again on the same address.
  absl::SleepFor(absl::Milliseconds(300));
  server = StartServer(address);
  ASSERT_OK(server->WaitUntilListening(absl::Seconds(60)).status());
  run.join();
  ASSERT_OK(survived);
  EXPECT_GE(survived->reconnects, 1);
  std::cout << "survived a SIGKILL at 3000/10000: " << survived->reconnects << " reconnect(s), "
            << survived->resent_batches << " batch(es) resent, " << survived->metrics.correct() << "/"
            << survived->metrics.images() << "\n";
  ExpectSamePredictions(*survived, uninterrupted, "after the restart");
  EXPECT_EQ(survived->server_report.correct(), 8719u);
  server->Signal(SIGTERM);
  EXPECT_TRUE(server->Wait(absl::Seconds(30)).ExitedWith(0));
}

TEST(Resilience, ThreeReplicasShareAnEvaluationAndSurviveLosingOne) {
  std::vector<std::unique_ptr<ServerProcess>> replicas;
  std::vector<std::string> addresses, metrics;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(StartServer("127.0.0.1:0", {"--metrics_address=127.0.0.1:0"}));
    ASSERT_OK_AND_ASSIGN(std::string address, replicas.back()->WaitUntilListening(absl::Seconds(60)));
    addresses.push_back(address);
    ASSERT_OK_AND_ASSIGN(std::string metrics_address, MetricsAddress(*replicas.back()));
    metrics.push_back(metrics_address);
  }
  const LabeledImages& images = Data().images;
  EvaluateOptions options;
  options.batch_size = 100;
  ASSERT_OK_AND_ASSIGN(const EvaluationResult single,
                       EvaluatorClient(EvaluatorClient::Connect(addresses[0])).Evaluate(images, options));
  ASSERT_EQ(single.metrics.correct(), 8719);
  const int64_t before[2] = {ImagesEvaluated(metrics[0]), ImagesEvaluated(metrics[1])};

  // One stream per replica over a round_robin channel. Past 3000/10000, as
  // soon as the third replica holds a stream, it is killed for good.
  const std::string list = absl::StrJoin(addresses, ",");
  options.streams = 3;
  std::atomic<int64_t> progress{0};
  options.on_progress = [&](int64_t done, int64_t) { progress = done; };
  std::atomic<bool> finished{false}, killed{false};
  std::thread killer([&] {
    while (!finished) {
      if (progress >= 3000 && StreamsInFlight(metrics[2]) > 0) {
        kill(replicas[2]->pid(), SIGKILL);
        killed = true;
        return;
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  absl::StatusOr<EvaluationResult> result = EvaluatorClient(EvaluatorClient::Connect(list)).Evaluate(images, options);
  finished = true;
  killer.join();
  ASSERT_OK(result);
  const EvaluationResult& merged = *result;
  EXPECT_TRUE(killed) << "the third replica never held a stream after 3000 images";
  ExpectSamePredictions(merged, single, "three replicas, one killed");
  EXPECT_EQ(merged.server_report.correct(), 8719u);
  const int64_t shares[2] = {ImagesEvaluated(metrics[0]) - before[0], ImagesEvaluated(metrics[1]) - before[1]};
  std::cout << "three replicas (" << list << "), the third killed at 3000: 8719/10000 as one server; replicas 1 "
            << "and 2 answered " << shares[0] << " and " << shares[1] << " images, replica 3 the rest before it "
            << "died; " << merged.reconnects << " reconnect(s), " << merged.resent_batches << " batch(es) resent\n";
  EXPECT_GT(shares[0], 0) << "round_robin gave replica 1 no stream";
  EXPECT_GT(shares[1], 0) << "round_robin gave replica 2 no stream";
  EXPECT_LT(shares[0] + shares[1], 10000) << "replica 3 answered nothing before it was killed";
  for (int i = 0; i < 2; ++i) {
    replicas[i]->Signal(SIGTERM);
    EXPECT_TRUE(replicas[i]->Wait(absl::Seconds(30)).ExitedWith(0));
  }
}

// Three replicas listening on one port at 127.0.0.1, .2 and .3 (all
// loopback on Linux): what a headless Service gives, one name with an A
// record per pod. Returns the replicas and their metrics addresses.
struct Replicas {
  std::vector<std::unique_ptr<ServerProcess>> servers;
  std::vector<std::string> metrics;
  int port = 0;
};
absl::StatusOr<Replicas> StartReplicasOnOnePort() {
  absl::Status failed;
  for (int attempt = 0; attempt < 5; ++attempt) {  // a port free on .1 may be taken on .2 or .3
    Replicas replicas;
    failed = absl::OkStatus();
    for (int i = 1; i <= 3; ++i) {
      replicas.servers.push_back(
          StartServer(absl::StrCat("127.0.0.", i, ":", replicas.port), {"--metrics_address=127.0.0.1:0"}));
      absl::StatusOr<std::string> address = replicas.servers.back()->WaitUntilListening(absl::Seconds(60));
      if (!address.ok()) {
        failed = address.status();
        break;
      }
      replicas.port = std::stoi(address->substr(address->rfind(':') + 1));
      absl::StatusOr<std::string> metrics_address = MetricsAddress(*replicas.servers.back());
      if (!metrics_address.ok()) return metrics_address.status();
      replicas.metrics.push_back(*metrics_address);
    }
    if (failed.ok()) return replicas;
  }
  return failed;
}

TEST(Resilience, ThreeReplicasBehindOneDnsNameShareAnEvaluation) {
  ASSERT_OK_AND_ASSIGN(Replicas replicas, StartReplicasOnOnePort());
  testing::DnsStub dns("replicas.resnet8.test", {"127.0.0.1", "127.0.0.2", "127.0.0.3"});
  ASSERT_OK(dns.Start());
  const LabeledImages& images = Data().images;
  EvaluateOptions options;
  options.batch_size = 100;
  ASSERT_OK_AND_ASSIGN(
      const EvaluationResult single,
      EvaluatorClient(EvaluatorClient::Connect(absl::StrCat("127.0.0.1:", replicas.port))).Evaluate(images, options));
  ASSERT_EQ(single.metrics.correct(), 8719);
  int64_t before[3];
  for (int i = 0; i < 3; ++i) before[i] = ImagesEvaluated(replicas.metrics[i]);

  // gRPC's c-ares resolver asks the stub (the target's authority) for the name.
  const std::string target = absl::StrCat("dns://", dns.address(), "/replicas.resnet8.test:", replicas.port);
  options.streams = 3;
  ASSERT_OK_AND_ASSIGN(const EvaluationResult merged,
                       EvaluatorClient(EvaluatorClient::Connect(target)).Evaluate(images, options));
  ExpectSamePredictions(merged, single, "three replicas behind one DNS name");
  EXPECT_EQ(merged.server_report.correct(), 8719u);
  EXPECT_GE(dns.address_queries(), 1);
  int64_t shares[3];
  for (int i = 0; i < 3; ++i) shares[i] = ImagesEvaluated(replicas.metrics[i]) - before[i];
  std::cout << "one DNS name (" << target << "), an A record per replica: 8719/10000 as one server; shares "
            << shares[0] << "/" << shares[1] << "/" << shares[2] << "; " << dns.address_queries()
            << " A quer(ies) answered\n";
  for (int i = 0; i < 3; ++i) EXPECT_GT(shares[i], 0) << "round_robin gave replica 127.0.0." << i + 1 << " no stream";
  EXPECT_EQ(shares[0] + shares[1] + shares[2], 10000);
  for (auto& server : replicas.servers) {
    server->Signal(SIGTERM);
    EXPECT_TRUE(server->Wait(absl::Seconds(30)).ExitedWith(0));
  }
}

TEST(ChannelTarget, AcceptsOneAddressOrAnIpv4List) {
  ASSERT_OK_AND_ASSIGN(std::string one, ChannelTarget("resnet8-server:50051"));
  EXPECT_EQ(one, "resnet8-server:50051");
  ASSERT_OK_AND_ASSIGN(std::string list, ChannelTarget("127.0.0.1:1,10.0.0.2:2"));
  EXPECT_EQ(list, "ipv4:127.0.0.1:1,10.0.0.2:2");
  EXPECT_EQ(CountListedServers("127.0.0.1:1,10.0.0.2:2"), 2);
  EXPECT_STATUS(ChannelTarget("127.0.0.1:1,server-b:2"), absl::StatusCode::kInvalidArgument,
                "'server-b:2' in the server list is not an IPv4 HOST:PORT");
  EXPECT_STATUS(ChannelTarget("127.0.0.1:1,"), absl::StatusCode::kInvalidArgument, "");
}

}  // namespace
}  // namespace resnet8
