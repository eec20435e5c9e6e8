"""The checks of inference_protocol_test.sh: a KServe v2 / Triton client
written from the public protocol, sharing only the .proto files."""
import csv
import struct
import sys

import grpc
import numpy as np

from inference import grpc_service_pb2 as pb
from inference import grpc_service_pb2_grpc
from inference import model_config_pb2
from resnet8.v1 import evaluator_pb2, evaluator_pb2_grpc

address, token_file, shared = sys.argv[1:4]
token = open(token_file).read().strip()
auth = [("authorization", f"Bearer {token}")]
channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)])
stub = grpc_service_pb2_grpc.GRPCInferenceServiceStub(channel)
evaluator = evaluator_pb2_grpc.EvaluatorStub(channel)

records = np.fromfile(f"{shared}/data/cifar-10-batches-bin/test_batch.bin", dtype=np.uint8).reshape(10000, 3073)
labels = records[:, 0]
planar = records[:, 1:].reshape(10000, 3, 32, 32)
hwc = np.ascontiguousarray(planar.transpose(0, 2, 3, 1))  # Keras's NHWC


def expect_error(code, fragment, call, request, metadata=auth):
    try:
        call(request, metadata=metadata)
    except grpc.RpcError as error:
        assert error.code() == code, (fragment, error.code(), error.details())
        assert fragment in error.details(), (fragment, error.details())
        print(f"  {code.name:18s} {error.details()}")
        return
    raise AssertionError(f"expected {code} ({fragment}), the call succeeded")


# Probes without the token; the rest needs it.
assert stub.ServerLive(pb.ServerLiveRequest()).live
assert stub.ServerReady(pb.ServerReadyRequest()).ready
assert stub.ModelReady(pb.ModelReadyRequest(name="resnet8")).ready
assert stub.ModelReady(pb.ModelReadyRequest(name="resnet8", version="1")).ready
print("probes: live, ready, model ready (no token needed)")
expect_error(grpc.StatusCode.UNAUTHENTICATED, "requires a token", stub.ModelMetadata,
             pb.ModelMetadataRequest(name="resnet8"), metadata=None)
expect_error(grpc.StatusCode.UNAUTHENTICATED, "requires a token", stub.ModelInfer,
             pb.ModelInferRequest(model_name="resnet8"), metadata=None)

server = stub.ServerMetadata(pb.ServerMetadataRequest(), metadata=auth)
assert "classification" in server.extensions, server
metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name="resnet8"), metadata=auth)
assert metadata.versions == ["1"], metadata
(tensor_in,) = metadata.inputs
(tensor_out,) = metadata.outputs
assert (tensor_in.name, tensor_in.datatype, list(tensor_in.shape)) == ("input_1", "UINT8", [-1, 32, 32, 3]), metadata
assert (tensor_out.datatype, list(tensor_out.shape)) == ("FP32", [-1, 10]), metadata
config = stub.ModelConfig(pb.ModelConfigRequest(name="resnet8"), metadata=auth).config
assert config.max_batch_size == 1024 and list(config.input[0].dims) == [32, 32, 3], config
assert config.input[0].data_type == model_config_pb2.TYPE_UINT8 and config.output[0].data_type == model_config_pb2.TYPE_FP32
print(f"metadata: input {tensor_in.name} {tensor_in.datatype} {list(tensor_in.shape)}, "
      f"output {tensor_out.name} {tensor_out.datatype} {list(tensor_out.shape)}, extensions {list(server.extensions)}")


def infer_raw(images, outputs=(), **fields):
    request = pb.ModelInferRequest(model_name="resnet8", id="raw", **fields)
    request.inputs.add(name=tensor_in.name, datatype="UINT8", shape=[len(images), 32, 32, 3])
    request.raw_input_contents.append(images.tobytes())
    for output in outputs:
        request.outputs.append(output)
    return stub.ModelInfer(request, metadata=auth)


# 1,000 images in one raw UINT8 request: exactly Classify's answers.
first = hwc[:1000]
answer = infer_raw(first)
assert answer.id == "raw" and answer.model_version == "1", answer.id
(out,) = answer.outputs
assert (out.name, out.datatype, list(out.shape)) == (tensor_out.name, "FP32", [1000, 10]), out
ours = np.frombuffer(answer.raw_output_contents[0], dtype="<f4").reshape(1000, 10)
classify = evaluator_pb2.ClassifyRequest()
classify.images.layout = evaluator_pb2.PIXEL_LAYOUT_INTERLEAVED_HWC
classify.images.count = 1000
classify.images.pixels = first.tobytes()
reference = evaluator.Classify(classify, metadata=auth)
theirs = np.array([list(p.probabilities) for p in reference.predictions], dtype=np.float32)
assert np.array_equal(ours, theirs), np.abs(ours - theirs).max()
correct = int((ours.argmax(1) == labels[:1000]).sum())
print(f"ModelInfer raw UINT8, 1000 images: identical to Classify bit for bit; top-1 {correct}/1000")

# The perf subset as typed FP32 contents: Keras's golden outputs within 1e-5.
golden = list(csv.DictReader(open(f"{shared}/golden/keras_reference_perf200.csv")))
indices = [int(row["index"]) for row in golden]
keras = np.array([[float(row[f"prob_{c}"]) for c in range(10)] for row in golden])
request = pb.ModelInferRequest(model_name="resnet8", model_version="1")
request.inputs.add(name=tensor_in.name, datatype="FP32", shape=[200, 32, 32, 3])
request.inputs[0].contents.fp32_contents.extend(hwc[indices].astype(np.float32).ravel().tolist())
answer = stub.ModelInfer(request, metadata=auth)
assert len(answer.raw_output_contents) == 0
typed = np.array(answer.outputs[0].contents.fp32_contents, dtype=np.float64).reshape(200, 10)
difference = np.abs(typed - keras).max()
assert difference <= 1e-5, difference
print(f"ModelInfer typed FP32, perf200: max |ours - Keras golden| = {difference:.2e}")

# The classification extension, raw and typed.
top = pb.ModelInferRequest.InferRequestedOutputTensor(name=tensor_out.name)
top.parameters["classification"].int64_param = 3
answer = infer_raw(hwc[:5], outputs=[top])
(out,) = answer.outputs
assert (out.datatype, list(out.shape)) == ("BYTES", [5, 3]), out
blob, elements = answer.raw_output_contents[0], []
while blob:
    (size,) = struct.unpack("<I", blob[:4])
    elements.append(blob[4:4 + size].decode())
    blob = blob[4 + size:]
names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
for image in range(5):
    best = ours[image].argsort()[::-1][:3]
    for rank in range(3):
        value, index, label = elements[image * 3 + rank].split(":")
        assert int(index) == best[rank] and label == names[best[rank]], elements
        assert np.float32(float(value)) == ours[image, best[rank]], (value, ours[image, best[rank]])
print(f"classification extension (k=3): {elements[:3]}")

# Every error the protocol names; the server keeps serving.
print("errors:")
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


def request_with(name=None, datatype="UINT8", shape=(1, 32, 32, 3), raw=None, model="resnet8", version=""):
    request = pb.ModelInferRequest(model_name=model, model_version=version)
    request.inputs.add(name=name or tensor_in.name, datatype=datatype, shape=list(shape))
    request.raw_input_contents.append(raw if raw is not None else bytes(3072))
    return request


expect_error(NOT_FOUND, "no model named 'resnet9'", stub.ModelInfer, request_with(model="resnet9"))
expect_error(NOT_FOUND, "has no version '2'", stub.ModelInfer, request_with(version="2"))
expect_error(NOT_FOUND, "no model named 'other'", stub.ModelMetadata, pb.ModelMetadataRequest(name="other"))
expect_error(NOT_FOUND, "no model named 'other'", stub.ModelReady, pb.ModelReadyRequest(name="other"))
expect_error(INVALID, "inputs[0] is named 'pixels'", stub.ModelInfer, request_with(name="pixels"))
expect_error(INVALID, "datatype 'INT32'", stub.ModelInfer, request_with(datatype="INT32"))
expect_error(INVALID, "shape is [1,3,32,32]", stub.ModelInfer, request_with(shape=(1, 3, 32, 32)))
expect_error(INVALID, "shape is [0,32,32,3]", stub.ModelInfer, request_with(shape=(0, 32, 32, 3), raw=b""))
expect_error(INVALID, "has 3071 bytes", stub.ModelInfer, request_with(raw=bytes(3071)))
expect_error(INVALID, "needs exactly 12288", stub.ModelInfer, request_with(datatype="FP32"))
typed = pb.ModelInferRequest(model_name="resnet8")
typed.inputs.add(name=tensor_in.name, datatype="UINT8", shape=[1, 32, 32, 3])
typed.inputs[0].contents.uint_contents.extend([300] + [0] * 3071)
expect_error(INVALID, "element 0 is 300", stub.ModelInfer, typed)
typed.inputs[0].contents.uint_contents[0] = 0
typed.inputs[0].contents.fp32_contents.append(1.0)
expect_error(INVALID, "sets contents.fp32_contents", stub.ModelInfer, typed)
unknown = request_with()
unknown.outputs.add(name="logits")
expect_error(INVALID, "outputs[0] is named 'logits'", stub.ModelInfer, unknown)
too_many = request_with()
too_many.outputs.add(name=tensor_out.name).parameters["classification"].int64_param = 11
expect_error(INVALID, "from 1 to 10", stub.ModelInfer, too_many)
expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "above this server's max_batch_images of 1024", stub.ModelInfer,
             request_with(shape=(1025, 32, 32, 3), raw=bytes(1025 * 3072)))
assert stub.ServerReady(pb.ServerReadyRequest()).ready
again = infer_raw(hwc[:1000]).raw_output_contents[0]
assert np.array_equal(np.frombuffer(again, dtype="<f4").reshape(1000, 10), theirs)

stats = stub.ModelStatistics(pb.ModelStatisticsRequest(name="resnet8"), metadata=auth).model_stats[0]
successes = 4  # 1,000 raw, perf200 typed, top-k, and the 1,000 again
assert stats.inference_stats.success.count == successes, stats
assert stats.inference_count == 1000 + 200 + 5 + 1000, stats
# The 13 ModelInfer errors above but the two NOT_FOUND: those asked for another
# model or version, so they never reached this one (statistics are per model).
assert stats.inference_stats.fail.count == 11, stats
assert stats.inference_stats.compute_infer.count >= successes, stats
print(f"statistics: {stats.inference_stats.success.count} successes, {stats.inference_stats.fail.count} failures, "
      f"{stats.inference_count} images")

# Triton's repository extension over gRPC: the one model, ready as version 1;
# what cannot be done is refused with its reason, and the model keeps serving.
index = stub.RepositoryIndex(pb.RepositoryIndexRequest(ready=True), metadata=auth)
assert [(m.name, m.version, m.state) for m in index.models] == [("resnet8", "1", "READY")], index
with_parameter = pb.RepositoryModelLoadRequest(model_name="resnet8")
with_parameter.parameters["config"].string_param = "{}"
expect_error(INVALID, "load parameter 'config' is not supported", stub.RepositoryModelLoad, with_parameter)
expect_error(NOT_FOUND, "model 'resnet9' is not loaded", stub.RepositoryModelUnload,
             pb.RepositoryModelUnloadRequest(model_name="resnet9"))
expect_error(grpc.StatusCode.UNAUTHENTICATED, "", stub.RepositoryIndex, pb.RepositoryIndexRequest(), metadata=None)
assert stub.ModelReady(pb.ModelReadyRequest(name="resnet8")).ready
print(f"repository index: {[(m.name, m.version, m.state) for m in index.models]}; a load parameter and an unknown "
      "unload refused")
