/* lonnx_wire.h -- the protobuf wire format walks of lonnx_wire.c, for lonnx.c:
** an ONNX file read without its weights, and the nesting-depth pre-scan. */
#ifndef LONNX_WIRE_H
#define LONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define ONNX_WIRE_MAX_DEPTH 64   /* nesting of messages (subgraphs) */

/* The file being walked, read with pread through a small window: the walk
** touches only the bytes around the fields, never the skipped weights. */
typedef struct onnx_wire_file {
  int fd;
  uint64_t size;
  uint64_t win_at;      /* file offset of win[0] */
  size_t win_len;
  int failed;           /* a read failed or came up short (file changed?) */
  uint8_t win[1 << 16];
} onnx_wire_file;

/* Which message a byte range is: the walk strips TensorProto.raw_data (9)
** of ModelProto.graph (7) -> GraphProto.initializer (5), the weights (and
** of a TensorProto file). */
enum { ONNX_WIRE_MODEL, ONNX_WIRE_GRAPH, ONNX_WIRE_TENSOR };

/* A stripped raw_data becomes a raw_data of ONNX_WIRE_SLOT bytes: the file
** offset and the length of the original bytes, little-endian uint64 each.
** Packed float_data (4) is stripped too, unless the tensor also holds floats
** one by one (wire type 5): each chunk becomes a slot in field
** ONNX_WIRE_FLOATS, unknown to TensorProto, so protobuf-c keeps it among the
** message's unknown fields, in file order (the file's own are dropped). */
#define ONNX_WIRE_SLOT 16
#define ONNX_WIRE_FLOATS 1000

/* Size of the message bytes [pos, end) of the file at level with every
** stripped raw_data replaced by its slot; writes them to out unless NULL.
** Malformed wire data is copied as it is, for protobuf-c to reject. */
uint64_t onnx_wire_strip(onnx_wire_file *f, uint64_t pos, uint64_t end, int level, uint8_t *out);

/* A slot's file offset and length. */
void onnx_wire_slot(const uint8_t *slot, uint64_t *offset, uint64_t *len);

/* Reads exactly n bytes at offset of fd; 0 on an error or a short read. */
int onnx_wire_read(int fd, uint64_t offset, void *dst, size_t n);

/* 1 if the message bytes p[0, len) of type top nest messages more than
** ONNX_WIRE_MAX_DEPTH deep: protobuf-c unpacks recursively with no limit. */
int onnx_wire_too_deep(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *top);

#endif
