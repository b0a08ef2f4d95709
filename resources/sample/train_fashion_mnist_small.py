#!/usr/bin/python3
"""Trains the bundled sample's smaller alternative: a tiny CNN on Fashion-MNIST.

Dev-only. It exists so that the workbench and reports can answer "should we compress the large
model, or simply use a smaller one?" on the same data. Writes to resources/sample/:

  fashion_mnist_small.onnx         the exported model (opset 13), input `image` [N,1,28,28], output `logits` [N,10]
  fashion_mnist_small.leger.json   the same preprocessing as the large sample

Same data, preprocessing, seeds and export path as train_fashion_mnist.py (imported from beside
this file). Run with Debian's python (torch 1.13, onnx 1.12):

  nice -n 10 /usr/bin/python3 resources/sample/train_fashion_mnist_small.py
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_fashion_mnist as base  # noqa: E402


class SmallCNN(nn.Module):
    """Two strided 3x3 convs (1->8->16, 28x28 -> 7x7) and two Linears: about 20,000 parameters."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 7 * 7, 24)
        self.fc2 = nn.Linear(24, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--out-dir", default=base.HERE)
    args = ap.parse_args()

    torch.set_num_threads(1)
    base.seed_everything(base.SEED)
    train_images, train_labels = base.load_split("train")
    test_images, test_labels = base.load_split("t10k")
    x_train = torch.from_numpy(base.preprocess(train_images))
    y_train = torch.from_numpy(train_labels.astype(np.int64))
    x_test = torch.from_numpy(base.preprocess(test_images))
    y_test = torch.from_numpy(test_labels.astype(np.int64))

    model = SmallCNN()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = (x_train.shape[0] + args.batch_size - 1) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps)
    gen = torch.Generator().manual_seed(base.SEED)
    t0 = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(x_train.shape[0], generator=gen)
        for i in range(0, x_train.shape[0], args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            flip = torch.rand(xb.shape[0], generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
        acc = base.evaluate(model, x_test, y_test)
        print(f"epoch {epoch}: test top-1 {acc * 100:.2f}% ({time.time() - t0:.0f}s)", flush=True)

    model.eval()
    acc_full = base.evaluate(model, x_test, y_test)
    acc_subset = base.evaluate(model, x_test[:base.SUBSET], y_test[:base.SUBSET])
    print(f"final test top-1: {acc_full * 100:.2f}% (10000), {acc_subset * 100:.2f}% (first {base.SUBSET})")

    path = os.path.join(args.out_dir, "fashion_mnist_small.onnx")
    torch.onnx.export(model, x_test[:1].clone(), path, opset_version=base.OPSET, do_constant_folding=True,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.EVAL)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    assert "BatchNormalization" not in [n.op_type for n in m.graph.node]
    m.producer_name = "leger-sample"
    m.doc_string = ("Leger sample: small Fashion-MNIST CNN, the alternative to compressing the large one "
                    "(resources/sample/train_fashion_mnist_small.py)")
    onnx.save(m, path)
    print(f"exported {path} ({os.path.getsize(path)} bytes)")
    sidecar = {"input": "image", "layout": "NCHW", "scale": base.SCALE, "mean": [base.MEAN], "std": [base.STD],
               "labels": base.LABELS}
    with open(os.path.join(args.out_dir, "fashion_mnist_small.leger.json"), "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
