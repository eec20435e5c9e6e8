"""The REST checks of inference_protocol_test.sh: the Open Inference
Protocol's HTTP/JSON binding through Python's urllib, against Classify's
answers over gRPC (stubs compiled from the .proto only)."""
import json
import struct
import sys
import urllib.error
import urllib.request

import grpc
import numpy as np

from resnet8.v1 import evaluator_pb2, evaluator_pb2_grpc

grpc_address, http_address, token_file, shared = sys.argv[1:5]
token = open(token_file).read().strip()
base = f"http://{http_address}"
AUTH = {"Authorization": f"Bearer {token}"}

records = np.fromfile(f"{shared}/data/cifar-10-batches-bin/test_batch.bin", dtype=np.uint8).reshape(10000, 3073)
hwc = np.ascontiguousarray(records[:, 1:].reshape(10000, 3, 32, 32).transpose(0, 2, 3, 1))

evaluator = evaluator_pb2_grpc.EvaluatorStub(
    grpc.insecure_channel(grpc_address, options=[("grpc.max_receive_message_length", 64 << 20)]))
classify = evaluator_pb2.ClassifyRequest()
classify.images.layout = evaluator_pb2.PIXEL_LAYOUT_INTERLEAVED_HWC
classify.images.count = 1000
classify.images.pixels = hwc[:1000].tobytes()
answers = evaluator.Classify(classify, metadata=[("authorization", f"Bearer {token}")])
reference = np.array([list(p.probabilities) for p in answers.predictions], dtype=np.float32)


def call(path, body=None, headers=None, raw=False):
    """(HTTP status, headers, body bytes) of one request."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={**AUTH, **(headers or {})})
    if data is not None and "Content-Type" not in request.headers:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def expect_error(status, fragment, path, body=None, headers=None):
    code, _, payload = call(path, body, headers)
    message = json.loads(payload)["error"]
    assert code == status and fragment in message, (status, fragment, code, message)
    print(f"  HTTP {code} {message}")


# Probes are open; the rest needs the token.
for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/resnet8/ready", "/v2/models/resnet8/versions/1/ready"):
    code, _, body = call(path, headers={"Authorization": ""})
    assert code == 200, (path, code, body)
expect_error(401, "requires a token", "/v2/models/resnet8", headers={"Authorization": ""})
code, _, body = call("/v2/models/resnet8")
metadata = json.loads(body)
assert metadata["inputs"][0]["shape"] == [-1, 32, 32, 3] and metadata["outputs"][0]["shape"] == [-1, 10], metadata
input_name, output_name = metadata["inputs"][0]["name"], metadata["outputs"][0]["name"]
assert "classification" in json.loads(call("/v2")[2])["extensions"]
print(f"REST metadata: {metadata['inputs'][0]} -> {metadata['outputs'][0]}")

# 1,000 images as nested JSON data: Classify's answers bit for bit.
request = {"id": "json", "inputs": [{"name": input_name, "shape": [1000, 32, 32, 3], "datatype": "UINT8",
                                     "data": hwc[:1000].tolist()}]}
code, _, body = call("/v2/models/resnet8/infer", request)
assert code == 200, body[:300]
answer = json.loads(body)
assert answer["id"] == "json" and answer["outputs"][0]["shape"] == [1000, 10], answer["outputs"][0]["shape"]
ours = np.array(answer["outputs"][0]["data"], dtype=np.float32).reshape(1000, 10)
assert np.array_equal(ours, reference), np.abs(ours - reference).max()
print("REST JSON UINT8, 1000 images: identical to Classify bit for bit")

# The binary-data extension: raw pixels in, raw floats out.
head = json.dumps({"inputs": [{"name": input_name, "shape": [1000, 32, 32, 3], "datatype": "UINT8",
                               "parameters": {"binary_data_size": 1000 * 3072}}],
                   "outputs": [{"name": output_name, "parameters": {"binary_data": True}}]}).encode()
code, headers, body = call("/v2/models/resnet8/versions/1/infer", head + hwc[:1000].tobytes(),
                           {"Inference-Header-Content-Length": str(len(head)),
                            "Content-Type": "application/octet-stream"})
assert code == 200, body[:300]
length = int(headers["Inference-Header-Content-Length"])
(values,) = json.loads(body[:length])["outputs"]
assert values["parameters"]["binary_data_size"] == 40000 and len(body) == length + 40000, values
binary = np.frombuffer(body[length:], dtype="<f4").reshape(1000, 10)
assert np.array_equal(binary, reference)
head = json.dumps({"inputs": [{"name": input_name, "shape": [4, 32, 32, 3], "datatype": "UINT8",
                               "parameters": {"binary_data_size": 4 * 3072}}]}).encode()
code, headers, body = call("/v2/models/resnet8/infer", head + hwc[:4].tobytes(),
                           {"Inference-Header-Content-Length": str(len(head)),
                            "Content-Type": "application/octet-stream"})
assert code == 200 and "Inference-Header-Content-Length" not in headers, (code, headers)
as_json = np.array(json.loads(body)["outputs"][0]["data"], dtype=np.float32).reshape(4, 10)
assert np.array_equal(as_json, reference[:4])
print("REST binary data: 1000 images identical to Classify, as binary and (4 images) as JSON")

# The classification extension: top-2 per image, best first.
request = {"inputs": [{"name": input_name, "shape": [3, 32, 32, 3], "datatype": "UINT8", "data": hwc[:3].tolist()}],
           "outputs": [{"name": output_name, "parameters": {"classification": 2}}]}
(top,) = json.loads(call("/v2/models/resnet8/infer", request)[2])["outputs"]
assert top["datatype"] == "BYTES" and top["shape"] == [3, 2], top
for image in range(3):
    for rank, index in enumerate(reference[image].argsort()[::-1][:2]):
        value, got, _ = top["data"][image * 2 + rank].split(":")
        assert int(got) == index and np.float32(float(value)) == reference[image, index], top["data"]
print(f"REST classification extension (k=2), image 0: {top['data'][:2]}")

# Errors: 400 for what is malformed, 404 for what does not exist, 413 over the limits.
print("REST errors:")
one = {"inputs": [{"name": input_name, "shape": [1, 32, 32, 3], "datatype": "UINT8", "data": [0] * 3072}]}
expect_error(400, "not valid JSON", "/v2/models/resnet8/infer", b"{\"inputs\": [")
expect_error(400, "not a JSON object", "/v2/models/resnet8/infer", [1, 2])
expect_error(400, "shape is [1,32,32]", "/v2/models/resnet8/infer",
             {"inputs": [{**one["inputs"][0], "shape": [1, 32, 32]}]})
expect_error(400, "holds 3071 values", "/v2/models/resnet8/infer",
             {"inputs": [{**one["inputs"][0], "data": [0] * 3071}]})
expect_error(400, "data element 5 is -1", "/v2/models/resnet8/infer",
             {"inputs": [{**one["inputs"][0], "data": [0] * 5 + [-1] + [0] * 3066}]})
expect_error(400, "datatype 'FP64'", "/v2/models/resnet8/infer", {"inputs": [{**one["inputs"][0], "datatype": "FP64"}]})
expect_error(404, "no model named 'resnet9'", "/v2/models/resnet9/infer", one)
expect_error(404, "has no version '7'", "/v2/models/resnet8/versions/7/infer", one)
expect_error(404, "no such route", "/v2/repository/shards", {})
expect_error(400, "unknown field 'readiness'", "/v2/repository/index", {"readiness": True})
expect_error(404, "no model named 'resnet9' to load", "/v2/repository/models/resnet9/load", {})
expect_error(413, "max_batch_images of 1024", "/v2/models/resnet8/infer",
             {"inputs": [{**one["inputs"][0], "shape": [1025, 32, 32, 3]}]})
expect_error(413, "larger than this server accepts", "/v2/models/resnet8/infer", b" " * (40 << 20))
code, _, _ = call("/v2/health/ready")
assert code == 200
fp32 = {"inputs": [{"name": input_name, "shape": [2, 32, 32, 3], "datatype": "FP32",
                    "data": hwc[:2].astype(np.float32).ravel().tolist()}]}
code, _, body = call("/v2/models/resnet8/infer", fp32)
assert np.array_equal(np.array(json.loads(body)["outputs"][0]["data"], dtype=np.float32).reshape(2, 10), reference[:2])
print("REST FP32 after the errors: identical to Classify; the server kept serving")

# The repository extension: the one model, ready, as version 1.
code, _, body = call("/v2/repository/index", {"ready": True})
assert code == 200 and json.loads(body) == [{"name": "resnet8", "version": "1", "state": "READY", "reason": ""}], body
print(f"REST repository index: {body.decode()}")
