#!/usr/bin/env python3
"""Writes the small data-loading fixtures under tests/fixtures/io/ (tests/io/test-*.c).

Run from anywhere: python3 scripts/make-io-fixtures.py  (needs numpy). The outputs are
committed; rerunning must leave `git diff` empty. The files come from independent writers
(numpy.save, a hand-written protobuf encoder, Python's gzip) so the C loaders are checked
against them rather than against themselves.

Values are a formula of the flat index i that the C tests recompute (see expected() in
tests/io/test-npy.c):
  signed ints      i * 3 - 5
  unsigned ints    i * 3 + 1
  floats           (i * 3 - 5) * 0.5
  bool             i % 2
"""
import gzip
import os
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "io")

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64"]


def values(dtype, shape):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.int64)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        v = (i % 2).astype(dt)
    elif dt.kind == "u":
        v = (i * 3 + 1).astype(dt)
    elif dt.kind == "i":
        v = (i * 3 - 5).astype(dt)
    else:
        v = ((i * 3 - 5) * 0.5).astype(dt)
    return v.reshape(shape)


def write(rel, data):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def npy_bytes(arr, **kw):
    import io
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, **kw)
    return b.getvalue()


def gz(data):
    # mtime=0 and no file name: the same bytes on every run.
    return gzip.compress(data, compresslevel=9, mtime=0)


def make_npy():
    for dt in DTYPES:
        write(f"npy/{dt}.npy", npy_bytes(values(dt, (2, 3))))
    write("npy/scalar-f64.npy", npy_bytes(np.array(2.5, dtype=np.float64)))
    write("npy/vec-i64.npy", npy_bytes(values("int64", (5,))))
    write("npy/cube-f32.npy", npy_bytes(values("float32", (2, 3, 4))))
    write("npy/empty-f32.npy", npy_bytes(np.zeros((0, 3), dtype=np.float32)))
    write("npy/bigendian-i32.npy", npy_bytes(values("int32", (2, 3)).astype(">i4")))
    write("npy/bigendian-f64.npy", npy_bytes(values("float64", (2, 3)).astype(">f8")))
    write("npy/v2-u8.npy", npy_bytes(values("uint8", (2, 3)), version=(2, 0)))
    write("npy/f32.npy.gz", gz(npy_bytes(values("float32", (2, 3)))))
    # Rejected ones.
    write("npy/fortran-f32.npy", npy_bytes(np.asfortranarray(values("float32", (3, 4)))))
    write("npy/object.npy", npy_bytes(np.array([1, "a", None], dtype=object),
                                      allow_pickle=True))
    write("npy/unicode.npy", npy_bytes(np.array(["ab", "cd"])))
    write("npy/complex.npy", npy_bytes(np.array([1 + 2j, 3 - 1j], dtype=np.complex64)))
    write("npy/structured.npy", npy_bytes(np.zeros(2, dtype=[("a", "<i4"), ("b", "<f4")])))


# ---- A minimal protobuf encoder for onnx.TensorProto ----
def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


ONNX = {"float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7,
        "string": 8, "bool": 9, "float16": 10, "float64": 11, "uint32": 12, "uint64": 13}


def tensor(dims, dtype_code, name=None, raw=None, floats=None, int32s=None, int64s=None,
           doubles=None, uint64s=None, strings=None, external=None):
    # Fields in field-number order, as protobuf writers emit them; dims unpacked (proto2).
    out = b"".join(key(1, 0) + varint(d) for d in dims)
    out += key(2, 0) + varint(dtype_code)
    if floats is not None:
        out += ld(4, struct.pack(f"<{len(floats)}f", *floats))
    if int32s is not None:
        out += ld(5, b"".join(varint(v) for v in int32s))
    if strings is not None:
        out += b"".join(ld(6, s) for s in strings)
    if int64s is not None:
        out += ld(7, b"".join(varint(v) for v in int64s))
    if name is not None:
        out += ld(8, name.encode())
    if raw is not None:
        out += ld(9, raw)
    if doubles is not None:
        out += ld(10, struct.pack(f"<{len(doubles)}d", *doubles))
    if uint64s is not None:
        out += ld(11, b"".join(varint(v) for v in uint64s))
    if external is not None:
        for k, v in external:
            out += ld(13, ld(1, k.encode()) + ld(2, v.encode()))
        out += key(14, 0) + varint(1)
    return out


def make_pb():
    shape = (2, 3)
    f32 = values("float32", shape)
    write("pb/f32-raw.pb", tensor(shape, 1, name="x", raw=f32.tobytes()))
    write("pb/f32-typed.pb", tensor(shape, 1, name="x", floats=f32.ravel().tolist()))
    write("pb/i64-typed.pb", tensor(shape, 7, int64s=values("int64", shape).ravel().tolist()))
    write("pb/i64-raw.pb", tensor(shape, 7, raw=values("int64", shape).tobytes()))
    write("pb/u8-typed.pb", tensor(shape, 2, int32s=values("uint8", shape).ravel().tolist()))
    write("pb/i8-typed.pb", tensor(shape, 3, int32s=values("int8", shape).ravel().tolist()))
    write("pb/bool-typed.pb", tensor(shape, 9, int32s=values("bool", shape).ravel().tolist()))
    f16 = values("float16", shape)
    write("pb/f16-typed.pb", tensor(shape, 10, int32s=f16.view(np.uint16).ravel().tolist()))
    write("pb/f16-raw.pb", tensor(shape, 10, raw=f16.tobytes()))
    write("pb/f64-typed.pb", tensor(shape, 11,
                                    doubles=values("float64", shape).ravel().tolist()))
    write("pb/u32-typed.pb", tensor(shape, 12,
                                    uint64s=values("uint32", shape).ravel().tolist()))
    write("pb/u64-typed.pb", tensor(shape, 13,
                                    uint64s=values("uint64", shape).ravel().tolist()))
    write("pb/scalar-f32.pb", tensor((), 1, floats=[2.5]))
    # Rejected ones.
    write("pb/string.pb", tensor((2,), 8, strings=[b"ab", b"cd"]))
    write("pb/external.pb", tensor(shape, 1, external=[("location", "x.bin")]))
    write("pb/count-mismatch.pb", tensor(shape, 1, floats=[1.0, 2.0]))


def idx(arr, code):
    hdr = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return hdr + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def make_idx():
    imgs = values("uint8", (3, 4, 5))
    write("idx/imgs-idx3-ubyte", idx(imgs, 0x08))
    write("idx/imgs-idx3-ubyte.gz", gz(idx(imgs, 0x08)))
    write("idx/labels-idx1-ubyte.gz", gz(idx(np.array([7, 2, 1], dtype=np.uint8), 0x08)))
    write("idx/i8.idx", idx(values("int8", (2, 3)), 0x09))
    write("idx/i16.idx", idx(values("int16", (2, 3)), 0x0B))
    write("idx/i32.idx", idx(values("int32", (2, 3)), 0x0C))
    write("idx/f32.idx", idx(values("float32", (2, 3)), 0x0D))
    write("idx/f64.idx", idx(values("float64", (2, 3)), 0x0E))


def main():
    make_npy()
    make_pb()
    make_idx()
    total = 0
    for d, _, files in os.walk(ROOT):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
    print(f"wrote fixtures under {os.path.normpath(ROOT)} ({total} bytes)")


if __name__ == "__main__":
    main()
