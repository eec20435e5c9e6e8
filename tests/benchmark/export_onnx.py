"""Exports the converter's TorchScript file to ONNX for the ONNX Runtime peer
of scripts/benchmark.sh: the same graph and weights, a dynamic batch size.
The peer's top-1 on the full test set, printed beside its speed, checks
that the exported graph still computes the model.
Usage: export_onnx.py IN.ts OUT.onnx"""
import sys

import torch

source, target = sys.argv[1:3]
module = torch.jit.load(source)
example = torch.rand(2, 3, 32, 32) * 255
torch.onnx.export(module, example, target, input_names=["input"], output_names=["output"],
                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=13)
print(f"export_onnx: {source} -> {target}")
