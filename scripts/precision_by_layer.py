"""Which layers' float32 arithmetic moves a converted model's outputs, and by how much.

  /usr/bin/python3 scripts/precision_by_layer.py MODEL.ts ../shared/data/cifar-10-batches-bin/test_batch.bin [N]

MODEL.ts is a module written by `resnet8_convert --format=torchscript --precision=float32`. Its
generated forward() is run statement by statement on the first N test images (default 200): once
all in float64 (the exact result), once all in float32, and once per statement with only that
statement in float32 (its inputs and weights rounded to float32). Each line prints the largest
output difference from the exact result that this one statement causes. The numbers behind
docs/conversion.md#precision.
"""
import re
import sys

import numpy as np
import torch


class Ops:
    """torch, with the functional ops TorchScript prints as torch.* names."""

    def __getattr__(self, name):
        return getattr(torch, name) if hasattr(torch, name) else getattr(torch.nn.functional, name)


def statements(module):
    body = module.code.split("-> Tensor:\n", 1)[1]
    for line in (l.strip() for l in body.splitlines() if l.strip()):
        yield ("__out", line[len("return "):]) if line.startswith("return ") else tuple(line.split(" = ", 1))


def run(module, x, program, float32=lambda index: False):
    env = {"self": module, "torch": Ops(), "x": x}
    for index, (name, expr) in enumerate(program):
        dtype = torch.float32 if float32(index) else torch.float64
        local = dict(env)
        for word in set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr)):
            value = env.get(word)
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                local[word] = value.to(dtype)
        value = eval(expr, {}, local)
        env[name] = value.double() if isinstance(value, torch.Tensor) and value.is_floating_point() else value
    return env["__out"], env


def main():
    module = torch.jit.load(sys.argv[1]).double()
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    records = np.fromfile(sys.argv[2], dtype=np.uint8).reshape(-1, 3073)[:count]
    x = torch.tensor(records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float64))
    program = list(statements(module))
    with torch.no_grad():
        exact, values = run(module, x, program)
        everything, _ = run(module, x, program, lambda index: True)
        print(f"everything in float32: max |output - exact| {(everything - exact).abs().max():.2e}")
        for index, (name, expr) in enumerate(program):
            if not expr.startswith("torch."):
                continue
            out, _ = run(module, x, program, lambda i: i == index)
            largest = values[name].abs().max().item() if isinstance(values.get(name), torch.Tensor) else 0
            print(f"{name:>6s} {expr[:58]:58s} |activation| <= {largest:8.3g}   moves the output {(out - exact).abs().max():.2e}")


if __name__ == "__main__":
    main()
