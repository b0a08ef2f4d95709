#!/usr/bin/python3
"""Trains Leger's bundled sample model: a small CNN on Fashion-MNIST.

Dev-only. Regenerates everything in resources/sample/:

  fashion_mnist_cnn.onnx                      the exported model (opset 13, BN folded)
  fashion_mnist_cnn.leger.json                input preprocessing sidecar
  fashion_mnist_cnn.reference.npz             x / logits / y for the first 64 test images
  fashion-mnist-test-2000-{images-idx3,labels-idx1}-ubyte.gz
                                              the first 2000 images/labels of the test set
  README.md                                   how it was made and its measured accuracy

Data comes from Debian's dataset-fashion-mnist package
(/usr/share/datasets/fashion-mnist). Run with Debian's python (torch 1.13, onnx 1.12):

  nice -n 10 /usr/bin/python3 resources/sample/train_fashion_mnist.py

Deterministic: fixed seeds, one thread.
"""

import argparse
import gzip
import json
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 20240611

# Preprocessing, used both in training and in the sidecar: x = (pixel / 255 - MEAN) / STD.
SCALE = 1.0 / 255.0
MEAN = 0.2860
STD = 0.3530
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

SUBSET = 2000        # first N test images shipped with the app
REFERENCE_N = 64     # first N test images in the reference .npz
OPSET = 13
TARGET_TOP1 = 0.90


# --------------------------------------------------------------------------- IDX I/O

def read_idx_gz(path):
    """Returns (header bytes, numpy array) of a gzipped IDX file (uint8 payload)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    header_len = 4 + 4 * ndim
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    expected = int(np.prod(dims))
    if data.size != expected:
        raise ValueError(f"{path}: expected {expected} bytes of data, found {data.size}")
    return data.reshape(dims)


def write_idx_gz(path, array):
    """Writes a uint8 array as gzipped IDX, byte-reproducible (no name/mtime in the gzip header)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header)
            f.write(array.tobytes())


def load_split(prefix):
    images = read_idx_gz(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx_gz(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    assert images.shape[0] == labels.shape[0]
    return images, labels


def preprocess(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], exactly as documented in the sidecar."""
    x = images_u8.astype(np.float32) * np.float32(SCALE)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :].astype(np.float32)


# --------------------------------------------------------------------------- model

class FashionCNN(nn.Module):
    """Conv -> strided conv -> depthwise-separable block -> flatten -> Linear -> Linear.

    Compressible layers of several kinds: a regular 3x3 conv (1->16), a strided 3x3 conv
    (16->32), a depthwise 3x3 conv (32 groups), a pointwise 1x1 conv (32->64) and two Linears.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)   # 28 -> 14
        self.bn2 = nn.BatchNorm2d(32)
        self.dw = nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32, bias=False)  # 14 -> 7
        self.bn3 = nn.BatchNorm2d(32)
        self.pw = nn.Conv2d(32, 64, 1, bias=False)
        self.bn4 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 48)
        self.dropout = nn.Dropout(0.25)
        self.fc2 = nn.Linear(48, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.dw(x)))
        x = F.relu(self.bn4(self.pw(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            logits = model(x[i:i + batch])
            correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    return correct / x.shape[0]


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out-dir", default=HERE)
    ap.add_argument("--check-ort", action="store_true",
                    help="also run the exported file with onnxruntime-node (tests/bench/ort_bench.js, "
                         "after `npm install` there) and record its top-1")
    args = ap.parse_args()

    torch.set_num_threads(1)
    seed_everything(SEED)
    out = args.out_dir
    os.makedirs(out, exist_ok=True)

    train_images, train_labels = load_split("train")
    test_images, test_labels = load_split("t10k")
    print(f"train {train_images.shape}, test {test_images.shape}", flush=True)

    x_train = torch.from_numpy(preprocess(train_images))
    y_train = torch.from_numpy(train_labels.astype(np.int64))
    x_test = torch.from_numpy(preprocess(test_images))
    y_test = torch.from_numpy(test_labels.astype(np.int64))

    model = FashionCNN()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params}", flush=True)
    assert n_params < 200_000

    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = (x_train.shape[0] + args.batch_size - 1) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)
    history = []
    t_start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(x_train.shape[0], generator=gen)
        total_loss = 0.0
        for i in range(0, x_train.shape[0], args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            # Light augmentation: random horizontal flip (clothes are left/right symmetric).
            flip = torch.rand(xb.shape[0], generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * xb.shape[0]
        acc = evaluate(model, x_test, y_test)
        history.append((epoch, total_loss / x_train.shape[0], acc))
        print(f"epoch {epoch}: train loss {total_loss / x_train.shape[0]:.4f}, "
              f"test top-1 {acc * 100:.2f}% ({time.time() - t_start:.0f}s)", flush=True)
    print(f"training took {(time.time() - t_start) / 60:.1f} min")

    model.eval()
    acc_full = evaluate(model, x_test, y_test)
    acc_subset = evaluate(model, x_test[:SUBSET], y_test[:SUBSET])
    print(f"final test top-1: {acc_full * 100:.2f}% (10000), {acc_subset * 100:.2f}% (first {SUBSET})")
    if acc_full < TARGET_TOP1:
        sys.exit(f"test top-1 {acc_full:.4f} is below the target {TARGET_TOP1}")

    # ---- ONNX export (eval mode + constant folding folds BN into the convs)
    onnx_path = os.path.join(out, "fashion_mnist_cnn.onnx")
    dummy = x_test[:1].clone()
    torch.onnx.export(model, dummy, onnx_path, opset_version=OPSET, do_constant_folding=True,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.EVAL)
    import onnx
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]
    assert "BatchNormalization" not in ops, ops
    m.producer_name = "leger-sample"
    m.doc_string = "Leger sample: Fashion-MNIST CNN (resources/sample/train_fashion_mnist.py)"
    onnx.save(m, onnx_path)
    print(f"exported {onnx_path} ({os.path.getsize(onnx_path)} bytes), ops: {ops}")

    onnx_check = verify_onnx(onnx_path, x_test[:REFERENCE_N].numpy(), model)
    ort_check = verify_with_ort(onnx_path, x_test, y_test, model) if args.check_ort else None

    # ---- sidecar
    sidecar = {
        "input": "image",
        "layout": "NCHW",
        "scale": SCALE,
        "mean": [MEAN],
        "std": [STD],
        "labels": LABELS,
    }
    with open(os.path.join(out, "fashion_mnist_cnn.leger.json"), "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")

    # ---- test subset (first SUBSET images / labels, same IDX format as the originals)
    write_idx_gz(os.path.join(out, f"fashion-mnist-test-{SUBSET}-images-idx3-ubyte.gz"), test_images[:SUBSET])
    write_idx_gz(os.path.join(out, f"fashion-mnist-test-{SUBSET}-labels-idx1-ubyte.gz"), test_labels[:SUBSET])
    # Round-trip check.
    back_i = read_idx_gz(os.path.join(out, f"fashion-mnist-test-{SUBSET}-images-idx3-ubyte.gz"))
    back_l = read_idx_gz(os.path.join(out, f"fashion-mnist-test-{SUBSET}-labels-idx1-ubyte.gz"))
    assert np.array_equal(back_i, test_images[:SUBSET]) and np.array_equal(back_l, test_labels[:SUBSET])

    # ---- reference outputs
    x_ref = x_test[:REFERENCE_N]
    with torch.no_grad():
        logits_ref = model(x_ref).numpy().astype(np.float32)
    np.savez_compressed(os.path.join(out, "fashion_mnist_cnn.reference.npz"),
                        x=x_ref.numpy().astype(np.float32),
                        logits=logits_ref,
                        y=y_test[:REFERENCE_N].numpy().astype(np.int64))

    write_readme(out, n_params, history, acc_full, acc_subset, args, ops, onnx_check, ort_check)
    print("done")


def verify_onnx(onnx_path, x, model):
    """Runs the exported file with onnx.reference when this onnx has it (>= 1.13); else skips."""
    try:
        from onnx.reference import ReferenceEvaluator  # noqa: F401  (onnx >= 1.13)
    except ImportError:
        print("onnx.reference is not available in this onnx version: ONNX-level check skipped")
        return None
    sess = ReferenceEvaluator(onnx_path)
    got = sess.run(None, {"image": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    err = float(np.abs(got - want).max())
    print(f"onnx.reference vs torch: max abs diff {err:.3g}")
    assert err <= 1e-3 * max(1.0, float(np.abs(want).max()))
    return err


def verify_with_ort(onnx_path, x_test, y_test, model):
    """Runs the exported file on the whole test set with onnxruntime-node; returns its top-1 figures."""
    import subprocess
    import tempfile
    bench = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "bench", "ort_bench.js")
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x_test.numpy())
        res = subprocess.run(["node", bench, onnx_path, "--input", "image=" + os.path.join(tmp, "x.npy"),
                              "--iters", "1", "--warmup", "0", "--output-dir", tmp],
                             capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit("onnxruntime-node failed: " + res.stderr)
        version = json.loads(res.stdout).get("onnxruntime")
        logits = np.load(os.path.join(tmp, "logits.npy"))
    with torch.no_grad():
        want = model(x_test[:REFERENCE_N]).numpy()
    rel = float(np.abs(logits[:REFERENCE_N] - want).max() / np.abs(want).max())
    pred = logits.argmax(1)
    y = y_test.numpy()
    result = {"version": version, "full": float((pred == y).mean()),
              "subset": float((pred[:SUBSET] == y[:SUBSET]).mean()), "rel_diff": rel}
    print(f"onnxruntime-node {version}: top-1 {result['full'] * 100:.2f}% (10000), "
          f"{result['subset'] * 100:.2f}% (first {SUBSET}); max|diff|/max|ref| vs torch on the "
          f"first {REFERENCE_N}: {rel:.2g}")
    assert rel <= 1e-4, rel
    return result


def write_readme(out, n_params, history, acc_full, acc_subset, args, ops, onnx_check, ort_check):
    op_counts = {}
    for op in ops:
        op_counts[op] = op_counts.get(op, 0) + 1
    rows = "\n".join(f"| {e} | {loss:.4f} | {acc * 100:.2f} % |" for e, loss, acc in history)
    onnx_line = ("The exported file was also run with `onnx.reference` and matched torch "
                 f"(max abs diff {onnx_check:.3g}).") if onnx_check is not None else (
                 "`onnx.reference` is not available in onnx 1.12; the exported file passes "
                 "`onnx.checker.check_model(full_check=True)`, and the C++ tests compare Leger's "
                 "results on it against `fashion_mnist_cnn.reference.npz`.")
    ort_line = "" if ort_check is None else (
        f"\nThe exported ONNX file run by onnxruntime-node {ort_check['version']} (`--check-ort`): "
        f"**{ort_check['full'] * 100:.2f} %** top-1 on the 10,000 test images, "
        f"**{ort_check['subset'] * 100:.2f} %** on the first {SUBSET}; its logits for the first "
        f"{REFERENCE_N} images match torch's to {ort_check['rel_diff']:.1g} of their largest magnitude.\n")
    text = f"""# Bundled sample: Fashion-MNIST CNN

Generated by `train_fashion_mnist.py` (dev-only) from the real Fashion-MNIST in Debian's
`dataset-fashion-mnist` package. Regenerate with:

```sh
nice -n 10 /usr/bin/python3 resources/sample/train_fashion_mnist.py
```

(Debian's python with `python3-torch` 1.13, `python3-onnx` 1.12, `python3-numpy`; one thread,
fixed seeds, so a rerun reproduces the same files; a few minutes.) Add `--check-ort` to also run the
exported file with ONNX Runtime (`tests/bench/ort_bench.js`, after `npm install` in `tests/bench`).

## Files

| file | what |
| --- | --- |
| `fashion_mnist_cnn.onnx` | the model, opset {OPSET}, input `image` float32 `[N,1,28,28]` (dynamic `N`), output `logits` float32 `[N,10]` |
| `fashion_mnist_cnn.leger.json` | preprocessing: `x = (pixel * scale - mean) / std`, NCHW, class labels |
| `fashion-mnist-test-{SUBSET}-images-idx3-ubyte.gz` | the first {SUBSET} images of the official test set (`t10k`), gzipped IDX like the original |
| `fashion-mnist-test-{SUBSET}-labels-idx1-ubyte.gz` | their labels |
| `fashion_mnist_cnn.reference.npz` | `x` (first {REFERENCE_N} preprocessed test images, float32 `[{REFERENCE_N},1,28,28]`), `logits` (torch eval-mode outputs, float32 `[{REFERENCE_N},10]`), `y` (labels, int64) |

## Model

{n_params} parameters:

- Conv 3x3 1->16 (pad 1) + BN + ReLU
- Conv 3x3 16->32, stride 2 + BN + ReLU (28x28 -> 14x14)
- depthwise Conv 3x3 (32 groups), stride 2 + BN + ReLU (14x14 -> 7x7)
- pointwise Conv 1x1 32->64 + BN + ReLU
- Flatten (3136) -> Linear 3136->48 + ReLU (+ dropout 0.25 in training) -> Linear 48->10

BatchNorm is folded into the convolutions at export (eval mode, `do_constant_folding=True`).
ONNX ops: {", ".join(f"{k} x{v}" for k, v in op_counts.items())}.

## Training

Adam, one-cycle LR schedule (max {args.lr}), batch {args.batch_size}, {args.epochs} epochs,
cross-entropy, random horizontal flips; preprocessing `pixel / 255`, then `(x - {MEAN}) / {STD}`.

| epoch | train loss | test top-1 (10,000) |
| --- | --- | --- |
{rows}

## Accuracy (torch, eval mode)

- full test set (10,000 images): **{acc_full * 100:.2f} %** top-1
- shipped subset (first {SUBSET} test images): **{acc_subset * 100:.2f} %** top-1

{onnx_line}
{ort_line}"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
