#include "format/profile_writer.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "format/profile_fields.h"
#include "format/proto_encoder.h"

namespace heapscope::format {
namespace {

class StringSink : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  bool Append(const void* data, size_t n) override {
    out_->append(static_cast<const char*>(data), n);
    return true;
  }

 private:
  std::string* out_;
};

// A MessageBuilder over a buffer sized for the message at hand.
class Scratch {
 public:
  MessageBuilder& Builder(size_t bytes) {
    if (buf_.size() < bytes) buf_.resize(bytes);
    builder_ = MessageBuilder(buf_.data(), buf_.size());
    return builder_;
  }

 private:
  std::vector<uint8_t> buf_;
  MessageBuilder builder_{nullptr, 0};
};

void EncodeValueType(StreamEncoder& enc, Scratch& s, uint32_t field, const ValueType& vt) {
  MessageBuilder& m = s.Builder(32);
  m.VarintNonZero(pb::value_type::kType, vt.type);
  m.VarintNonZero(pb::value_type::kUnit, vt.unit);
  enc.Message(field, m);
}

}  // namespace

Result<std::string> EncodeProfile(const Profile& p) {
  std::string out;
  StringSink sink(&out);
  StreamEncoder enc(&sink);
  Scratch s;
  for (const ValueType& vt : p.sample_types) EncodeValueType(enc, s, pb::profile::kSampleType, vt);

  std::vector<uint64_t> ids;
  const SampleTable& samples = p.samples;
  for (size_t i = 0; i < samples.size(); i++) {
    std::span<const uint32_t> locs = samples.Locations(i);
    std::span<const int64_t> values = samples.Values(i);
    std::span<const Label> labels = samples.Labels(i);
    ids.clear();
    for (uint32_t l : locs) ids.push_back(p.locations[l].id);
    MessageBuilder& m = s.Builder(16 + 11 * (ids.size() + values.size()) + 48 * labels.size());
    m.PackedVarints(pb::sample::kLocationId, ids.data(), ids.size());
    m.PackedInt64s(pb::sample::kValue, values.data(), values.size());
    for (const Label& l : labels) {
      uint8_t lbuf[48];
      MessageBuilder lm(lbuf, sizeof lbuf);
      lm.VarintNonZero(pb::label::kKey, l.key);
      lm.VarintNonZero(pb::label::kStr, l.str);
      if (l.num != 0) lm.Int64(pb::label::kNum, l.num);
      lm.VarintNonZero(pb::label::kNumUnit, l.num_unit);
      m.Message(pb::sample::kLabel, lm);
    }
    enc.Message(pb::profile::kSample, m);
  }

  for (const Mapping& mp : p.mappings) {
    MessageBuilder& m = s.Builder(128);
    m.Varint(pb::mapping::kId, mp.id);
    m.VarintNonZero(pb::mapping::kMemoryStart, mp.memory_start);
    m.VarintNonZero(pb::mapping::kMemoryLimit, mp.memory_limit);
    m.VarintNonZero(pb::mapping::kFileOffset, mp.file_offset);
    m.VarintNonZero(pb::mapping::kFilename, mp.filename);
    m.VarintNonZero(pb::mapping::kBuildId, mp.build_id);
    m.Bool(pb::mapping::kHasFunctions, mp.has_functions);
    m.Bool(pb::mapping::kHasFilenames, mp.has_filenames);
    m.Bool(pb::mapping::kHasLineNumbers, mp.has_line_numbers);
    m.Bool(pb::mapping::kHasInlineFrames, mp.has_inline_frames);
    enc.Message(pb::profile::kMapping, m);
  }

  for (const Location& loc : p.locations) {
    MessageBuilder& m = s.Builder(48 + 40 * size_t{loc.line_count});
    m.Varint(pb::location::kId, loc.id);
    if (loc.mapping != kNoIndex) m.Varint(pb::location::kMappingId, p.mappings[loc.mapping].id);
    m.VarintNonZero(pb::location::kAddress, loc.address);
    for (const Line& line : p.LinesOf(loc)) {
      uint8_t lbuf[40];
      MessageBuilder lm(lbuf, sizeof lbuf);
      lm.Varint(pb::line::kFunctionId, p.functions[line.function].id);
      if (line.line != 0) lm.Int64(pb::line::kLine, line.line);
      if (line.column != 0) lm.Int64(pb::line::kColumn, line.column);
      m.Message(pb::location::kLine, lm);
    }
    m.Bool(pb::location::kIsFolded, loc.is_folded);
    enc.Message(pb::profile::kLocation, m);
  }

  for (const Function& f : p.functions) {
    MessageBuilder& m = s.Builder(64);
    m.Varint(pb::function::kId, f.id);
    m.VarintNonZero(pb::function::kName, f.name);
    m.VarintNonZero(pb::function::kSystemName, f.system_name);
    m.VarintNonZero(pb::function::kFilename, f.filename);
    if (f.start_line != 0) m.Int64(pb::function::kStartLine, f.start_line);
    enc.Message(pb::profile::kFunction, m);
  }

  for (std::string_view str : p.strings())
    enc.Bytes(pb::profile::kStringTable, str.data(), str.size());
  if (p.drop_frames != 0) enc.Varint(pb::profile::kDropFrames, p.drop_frames);
  if (p.keep_frames != 0) enc.Varint(pb::profile::kKeepFrames, p.keep_frames);
  if (p.time_nanos != 0) enc.Int64(pb::profile::kTimeNanos, p.time_nanos);
  if (p.duration_nanos != 0) enc.Int64(pb::profile::kDurationNanos, p.duration_nanos);
  if (p.period_type.type != 0 || p.period_type.unit != 0) {
    EncodeValueType(enc, s, pb::profile::kPeriodType, p.period_type);
  }
  if (p.period != 0) enc.Int64(pb::profile::kPeriod, p.period);
  for (StringIndex c : p.comments) enc.Varint(pb::profile::kComment, c);
  if (p.default_sample_type != 0)
    enc.Varint(pb::profile::kDefaultSampleType, p.default_sample_type);
  if (enc.dropped() != 0) {
    return Error{"cannot encode the profile: " + std::to_string(enc.dropped()) +
                 " messages did not fit their buffers"};
  }
  return out;
}

Result<std::string> EncodeProfileGzip(const Profile& p) {
  Result<std::string> raw = EncodeProfile(p);
  if (!raw.ok()) return raw;
  z_stream z = {};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Error{"cannot start gzip compression"};
  }
  std::string out;
  out.resize(deflateBound(&z, raw->size()) + 64);
  z.next_in = reinterpret_cast<Bytef*>(raw->data());
  z.avail_in = static_cast<uInt>(raw->size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Error{"gzip compression failed"};
  return out;
}

Result<bool> WriteProfileFile(const Profile& p, const std::string& path) {
  Result<std::string> data = EncodeProfileGzip(p);
  if (!data.ok()) return Error{data.error()};
  const bool to_stdout = path == "-";
  const std::string tmp = to_stdout ? "" : path + ".tmp." + std::to_string(getpid());
  int fd =
      to_stdout ? STDOUT_FILENO : open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error{"cannot create " + path + ": " + std::strerror(errno)};
  size_t done = 0;
  while (done < data->size()) {
    ssize_t n = write(fd, data->data() + done, data->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      if (!to_stdout) {
        close(fd);
        unlink(tmp.c_str());
      }
      return Error{"cannot write " + path + ": " + std::strerror(err)};
    }
    done += static_cast<size_t>(n);
  }
  if (to_stdout) return true;
  if (close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Error{"cannot write " + path + ": " + std::strerror(err)};
  }
  return true;
}

}  // namespace heapscope::format
