"""Mixed traffic against a running resnet8_server for the soak
(scripts/soak.sh): every API at once, a little below the server's
capacity, plus churn of silent HTTP connections, while the server's RSS and
open file descriptors are sampled every 10 s.

    soak_traffic.py GRPC HTTP METRICS SERVER_PID BIN SHARED MINUTES OUT.csv

Prints one summary line; exits 1 if any call failed in a way the service
must never answer (anything but OK, or RESOURCE_EXHAUSTED / 429 at a limit),
or if RSS or descriptors grew between the first and the last quarter of the
run. Clients: Python grpcio stubs compiled from the .proto, urllib, and the
resnet8_client program."""
import csv
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import grpc
import numpy as np

from inference import grpc_service_pb2, grpc_service_pb2_grpc

grpc_address, http_address, metrics_address, pid, bin_dir, shared, minutes, out = sys.argv[1:9]
deadline = time.time() + float(minutes) * 60
records = np.fromfile(f"{shared}/data/cifar-10-batches-bin/test_batch.bin", dtype=np.uint8).reshape(10000, 3073)
hwc = np.ascontiguousarray(records[:, 1:].reshape(10000, 3, 32, 32).transpose(0, 2, 3, 1))

counts = {}
failures = []
lock = threading.Lock()


def count(kind, outcome, detail=""):
    with lock:
        counts[(kind, outcome)] = counts.get((kind, outcome), 0) + 1
        if outcome == "failed" and len(failures) < 10:
            failures.append(f"{kind}: {detail}")


def grpc_infer():
    stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(grpc_address))
    while time.time() < deadline:
        n = random.randint(1, 64)
        first = random.randint(0, 10000 - n)
        request = grpc_service_pb2.ModelInferRequest(model_name="resnet8")
        tensor = request.inputs.add(name="input_1", datatype="UINT8", shape=[n, 32, 32, 3])
        del tensor
        request.raw_input_contents.append(hwc[first:first + n].tobytes())
        try:
            stub.ModelInfer(request, timeout=30)
            count("grpc ModelInfer", "ok")
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                count("grpc ModelInfer", "refused")
            else:
                count("grpc ModelInfer", "failed", f"{error.code()} {error.details()}")


def rest_infer():
    while time.time() < deadline:
        n = random.randint(1, 8)
        first = random.randint(0, 10000 - n)
        body = json.dumps({"inputs": [{"name": "input_1", "shape": [n, 32, 32, 3], "datatype": "UINT8",
                                       "data": hwc[first:first + n].flatten().tolist()}]}).encode()
        request = urllib.request.Request(f"http://{http_address}/v2/models/resnet8/infer", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                json.load(response)
            count("REST infer", "ok")
        except urllib.error.HTTPError as error:
            count("REST infer", "refused" if error.code == 429 else "failed", f"HTTP {error.code}")
        except OSError as error:
            count("REST infer", "failed", str(error))


def evaluations():
    while time.time() < deadline:
        run = subprocess.run([f"{bin_dir}/resnet8_client", "evaluate", f"--server={grpc_address}",
                              f"--data={shared}/data/cifar-10-batches-bin", "--limit=2000"],
                             capture_output=True, text=True)
        ok = run.returncode == 0 and "top-1 accuracy:" in run.stdout
        count("EvaluateDataset", "ok" if ok else "failed", run.stderr.strip()[-200:])


def probes():
    while time.time() < deadline:
        for url in (f"http://{http_address}/v2/health/ready", f"http://{metrics_address}/metrics"):
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    response.read()
                count("probe", "ok")
            except OSError as error:
                count("probe", "failed", f"{url}: {error}")
        time.sleep(1)


def silent_connections():
    """50 connections that send half a request line, every 30 s: the server
    must close them itself (read timeout)."""
    host, port = http_address.rsplit(":", 1)
    while time.time() < deadline:
        held = []
        for _ in range(50):
            connection = socket.create_connection((host, int(port)))
            connection.sendall(b"GET /v2/hea")
            held.append(connection)
        time.sleep(30)
        for connection in held:
            connection.close()


def sample():
    status = open(f"/proc/{pid}/status").read()
    rss_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
    return rss_kib, len(os.listdir(f"/proc/{pid}/fd")), threads


workers = [grpc_infer, grpc_infer, rest_infer, rest_infer, evaluations, probes, silent_connections]
threads = [threading.Thread(target=worker, daemon=True) for worker in workers]
start = time.time()
for thread in threads:
    thread.start()
samples = []
with open(out, "w", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(["seconds", "rss_kib", "open_fds", "threads"])
    while time.time() < deadline:
        time.sleep(10)
        samples.append((time.time() - start, *sample()))
        writer.writerow([f"{samples[-1][0]:.0f}", *samples[-1][1:]])
        file.flush()
for thread in threads:
    thread.join(timeout=120)

quarter = max(1, len(samples) // 4)
first, last = samples[:quarter], samples[-quarter:]
mean = lambda rows, i: sum(row[i] for row in rows) / len(rows)
rss_first, rss_last = mean(first, 1) / 1024, mean(last, 1) / 1024
fds_first, fds_last = mean(first, 2), mean(last, 2)
summary = ", ".join(f"{kind} {outcome} {n}" for (kind, outcome), n in sorted(counts.items()))
print(f"soak {minutes} min: {summary}; RSS MiB first quarter {rss_first:.0f}, last {rss_last:.0f}, "
      f"peak {max(row[1] for row in samples) / 1024:.0f}; open fds first {fds_first:.0f}, last {fds_last:.0f}")
problems = failures[:]
if rss_last > rss_first * 1.10:
    problems.append(f"RSS grew from {rss_first:.0f} to {rss_last:.0f} MiB")
if fds_last > fds_first + 20:
    problems.append(f"open descriptors grew from {fds_first:.0f} to {fds_last:.0f}")
for problem in problems:
    print("soak: " + problem, file=sys.stderr)
sys.exit(1 if problems else 0)
