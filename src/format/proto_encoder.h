// A protobuf encoder that never allocates: it writes into a caller-provided
// sink. Nested messages are built in a fixed scratch buffer (MessageBuilder)
// and then appended with their length, which fits profile.proto, where every
// nested message (Sample, Location, Function, Mapping) is small.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace heapscope::format {

// Where encoded bytes go. Append returns false when out of memory; encoders
// remember the failure and callers check ok().
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual bool Append(const void* data, size_t n) = 0;
};

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

inline size_t PutVarint(uint8_t* out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<uint8_t>(v);
  return n;
}

// Encodes fields of one message into a fixed buffer. If the buffer is too
// small the builder marks itself overflowed and the message is dropped.
class MessageBuilder {
 public:
  MessageBuilder(uint8_t* buf, size_t cap) : buf_(buf), cap_(cap) {}

  void Varint(uint32_t field, uint64_t v) {
    uint64_t tag = static_cast<uint64_t>(field) << 3;
    if (!Room(VarintSize(tag) + VarintSize(v))) return;
    len_ += PutVarint(buf_ + len_, tag);
    len_ += PutVarint(buf_ + len_, v);
  }
  // Proto3 omits zero scalars.
  void VarintNonZero(uint32_t field, uint64_t v) {
    if (v != 0) Varint(field, v);
  }
  void Int64(uint32_t field, int64_t v) { Varint(field, static_cast<uint64_t>(v)); }
  void Bool(uint32_t field, bool v) {
    if (v) Varint(field, 1);
  }
  void Bytes(uint32_t field, const void* data, size_t n) {
    if (!Room(VarintSize(static_cast<uint64_t>(field) << 3 | 2) + VarintSize(n) + n)) return;
    len_ += PutVarint(buf_ + len_, (static_cast<uint64_t>(field) << 3) | 2);
    len_ += PutVarint(buf_ + len_, n);
    memcpy(buf_ + len_, data, n);
    len_ += n;
  }
  void Message(uint32_t field, const MessageBuilder& m) {
    if (m.overflow_) {
      overflow_ = true;
      return;
    }
    Bytes(field, m.buf_, m.len_);
  }
  // Packed repeated varints: call BeginPacked, then PackedValue for each, then
  // EndPacked. Values are staged after a reserved length slot.
  void PackedVarints(uint32_t field, const uint64_t* v, size_t n);
  void PackedInt64s(uint32_t field, const int64_t* v, size_t n) {
    PackedVarints(field, reinterpret_cast<const uint64_t*>(v), n);
  }

  const uint8_t* data() const { return buf_; }
  size_t size() const { return len_; }
  bool overflow() const { return overflow_; }
  void Clear() {
    len_ = 0;
    overflow_ = false;
  }

 private:
  bool Room(size_t n) {
    if (overflow_ || len_ + n > cap_) {
      overflow_ = true;
      return false;
    }
    return true;
  }
  uint8_t* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool overflow_ = false;
};

inline void MessageBuilder::PackedVarints(uint32_t field, const uint64_t* v, size_t n) {
  if (n == 0) return;
  size_t body = 0;
  uint8_t tmp[10];
  for (size_t i = 0; i < n; i++) body += PutVarint(tmp, v[i]);
  if (!Room(VarintSize(static_cast<uint64_t>(field) << 3 | 2) + VarintSize(body) + body)) return;
  len_ += PutVarint(buf_ + len_, (static_cast<uint64_t>(field) << 3) | 2);
  len_ += PutVarint(buf_ + len_, body);
  for (size_t i = 0; i < n; i++) len_ += PutVarint(buf_ + len_, v[i]);
}

// Writes top-level fields straight to a sink.
class StreamEncoder {
 public:
  explicit StreamEncoder(ByteSink* sink) : sink_(sink) {}

  void Varint(uint32_t field, uint64_t v) {
    uint8_t tmp[20];
    size_t n = PutVarint(tmp, (static_cast<uint64_t>(field) << 3) | 0);
    n += PutVarint(tmp + n, v);
    Put(tmp, n);
  }
  void Int64(uint32_t field, int64_t v) { Varint(field, static_cast<uint64_t>(v)); }
  void Bytes(uint32_t field, const void* data, size_t n) {
    uint8_t tmp[20];
    size_t h = PutVarint(tmp, (static_cast<uint64_t>(field) << 3) | 2);
    h += PutVarint(tmp + h, n);
    Put(tmp, h);
    Put(data, n);
  }
  void String(uint32_t field, const char* s) { Bytes(field, s, strlen(s)); }
  void Message(uint32_t field, const MessageBuilder& m) {
    if (m.overflow()) {
      dropped_++;
      return;
    }
    Bytes(field, m.data(), m.size());
  }
  bool ok() const { return ok_; }
  // Messages that did not fit their scratch buffer and were left out.
  size_t dropped() const { return dropped_; }

 private:
  void Put(const void* d, size_t n) {
    if (ok_ && !sink_->Append(d, n)) ok_ = false;
  }
  ByteSink* sink_;
  bool ok_ = true;
  size_t dropped_ = 0;
};

}  // namespace heapscope::format
