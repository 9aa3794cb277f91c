#include "format/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>

namespace heapscope::format {
namespace {

// zlib counts input and output in 32-bit uInt; feed it at most this much at
// a time.
constexpr size_t kMaxZlibChunk = size_t{1} << 30;

std::string HumanSize(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes % (uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// A first guess at the inflated size: the ISIZE trailer of the last member
// (the size modulo 2^32) if it is plausible, else a multiple of the input.
size_t InitialCapacity(std::string_view data, uint64_t max_size) {
  uint64_t guess = 0;
  if (data.size() >= 18) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4);
    guess = uint64_t{p[0]} | uint64_t{p[1]} << 8 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 24;
  }
  // A gzip member cannot inflate more than ~1032:1; a larger ISIZE is from a
  // corrupt trailer (or the size wrapped); fall back to a ratio.
  if (guess == 0 || guess > data.size() * uint64_t{1032}) guess = data.size() * uint64_t{4};
  guess = std::max<uint64_t>(guess, 4096);
  // One byte more than the bound lets the loop see that the output overflows
  // without reallocating.
  return static_cast<size_t>(std::min<uint64_t>(guess, max_size + 1));
}

class Inflater {
 public:
  Inflater() { std::memset(&z_, 0, sizeof(z_)); }
  ~Inflater() {
    if (initialized_) inflateEnd(&z_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // 15 window bits + 16: expect a gzip header and trailer.
  bool Init() {
    initialized_ = inflateInit2(&z_, 15 + 16) == Z_OK;
    return initialized_;
  }
  z_stream* z() { return &z_; }

 private:
  z_stream z_;
  bool initialized_ = false;
};

}  // namespace

bool IsGzip(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

Result<ByteBuffer> Gunzip(std::string_view data, uint64_t max_size) {
  if (!IsGzip(data)) return Error{"not gzip data (missing the 1f 8b magic bytes)"};
  Inflater inflater;
  if (!inflater.Init()) return Error{"cannot initialize zlib (out of memory?)"};
  z_stream* z = inflater.z();

  // The buffer is not zeroed (LargeAllocator): zlib writes every byte kept.
  ByteBuffer out;
  out.resize(InitialCapacity(data, max_size));
  size_t out_len = 0;
  size_t in_pos = 0;  // Bytes of `data` consumed by zlib so far.
  size_t member_start = 0;

  for (;;) {
    if (out_len == out.size()) {
      if (out.size() > max_size) {
        return Error{"inflated data exceeds the " + HumanSize(max_size) +
                     " limit (is this really a profile?)"};
      }
      uint64_t grown = std::min<uint64_t>(uint64_t{out.size()} * 2, max_size + 1);
      out.resize(static_cast<size_t>(grown));
    }
    size_t in_chunk = std::min(data.size() - in_pos, kMaxZlibChunk);
    size_t out_chunk = std::min(out.size() - out_len, kMaxZlibChunk);
    z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_pos));
    z->avail_in = static_cast<uInt>(in_chunk);
    z->next_out = reinterpret_cast<Bytef*>(out.data() + out_len);
    z->avail_out = static_cast<uInt>(out_chunk);

    int rc = inflate(z, Z_NO_FLUSH);
    in_pos += in_chunk - z->avail_in;
    out_len += out_chunk - z->avail_out;

    if (rc == Z_STREAM_END) {
      if (in_pos == data.size()) break;
      if (!IsGzip(data.substr(in_pos))) {
        // gzip(1) tolerates zero padding after the last member; so do we.
        std::string_view rest = data.substr(in_pos);
        if (std::all_of(rest.begin(), rest.end(), [](char c) { return c == 0; })) break;
        return Error{"unexpected data after the gzip stream at byte " + std::to_string(in_pos)};
      }
      member_start = in_pos;
      if (inflateReset(z) != Z_OK) return Error{"cannot reset zlib"};
      continue;
    }
    if (rc == Z_DATA_ERROR) {
      std::string why = z->msg != nullptr ? z->msg : "invalid data";
      return Error{"corrupt gzip data near byte " + std::to_string(in_pos) + " (" + why + ")"};
    }
    if (rc == Z_MEM_ERROR) return Error{"out of memory while inflating"};
    if (rc == Z_NEED_DICT) return Error{"corrupt gzip data (needs a preset dictionary)"};
    if (rc == Z_BUF_ERROR || rc == Z_OK) {
      // No progress possible with the input we have: it ended mid-stream.
      bool stuck = z->avail_in == in_chunk && z->avail_out == out_chunk && z->avail_out > 0;
      if ((in_pos == data.size() && z->avail_out > 0) || stuck) {
        return Error{"truncated gzip data: the stream that starts at byte " +
                     std::to_string(member_start) + " ends early at byte " +
                     std::to_string(data.size())};
      }
      continue;
    }
    return Error{"zlib error " + std::to_string(rc) + " while inflating"};
  }
  if (out_len > max_size) {
    return Error{"inflated data exceeds the " + HumanSize(max_size) +
                 " limit (is this really a profile?)"};
  }
  out.resize(out_len);
  return out;
}

}  // namespace heapscope::format
