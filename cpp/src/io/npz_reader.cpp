#include "fastgdml/io/npz_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>

namespace fastgdml::io {
namespace {

constexpr std::uint32_t kEndOfDirectory = 0x06054b50, kZip64Locator = 0x07064b50, kZip64End = 0x06064b50,
                        kDirectoryEntry = 0x02014b50, kLocalHeader = 0x04034b50;
constexpr std::uint64_t kMaxMembers = 100000;  // a model has ~30 keys; more is not an npz we wrote or sgdml did

std::uint64_t le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A tiny parser of the .npy header dict: {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  void parse(NpyArray& out, bool& fortran) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    for (;;) {
      skip();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        descr(quoted(), out);
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = word() == "True";
        have_order = true;
      } else if (key == "shape") {
        shape(out.shape);
        have_shape = true;
      } else {
        fail("unexpected header key '" + key + "'");
      }
      skip();
      if (peek() == ',') ++i_;
    }
    if (!have_descr || !have_order || !have_shape) fail("header lacks descr, fortran_order or shape");
  }

 private:
  [[noreturn]] void fail(const std::string& m) const { throw NpzError(what_ + ": malformed .npy header (" + m + ")"); }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
  }
  char peek() {
    skip();
    if (i_ >= s_.size()) fail("truncated");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const std::size_t end = s_.find(q, ++i_);
    if (end == std::string::npos || end - i_ > 64) fail("unterminated string");
    std::string v = s_.substr(i_, end - i_);
    i_ = end + 1;
    return v;
  }
  std::string word() {
    skip();
    const std::size_t start = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    const std::string w = s_.substr(start, i_ - start);
    if (w != "True" && w != "False") fail("fortran_order must be True or False");
    return w;
  }
  void descr(const std::string& d, NpyArray& out) {
    if (d.size() < 2) fail("dtype '" + d + "'");
    const char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') fail("dtype '" + d + "'");
    out.big_endian = order == '>';
    out.kind = d[1];
    if (std::string("fiubUSO").find(out.kind) == std::string::npos) fail("unsupported dtype '" + d + "'");
    const std::string digits = d.substr(2);
    if (out.kind == 'O') {
      out.item_size = 8;
      return;
    }
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos)
      fail("dtype '" + d + "'");
    out.item_size = std::stoi(digits);
    if (out.kind == 'U') out.item_size *= 4;
    if (out.item_size < 1) fail("dtype '" + d + "'");
    if (std::string("fiub").find(out.kind) != std::string::npos && out.item_size != 1 && out.item_size != 2 &&
        out.item_size != 4 && out.item_size != 8)
      fail("dtype '" + d + "'");
  }
  void shape(std::vector<std::int64_t>& dims) {
    expect('(');
    for (;;) {
      skip();
      if (peek() == ')') {
        ++i_;
        break;
      }
      const std::size_t start = i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ == start || i_ - start > 15) fail("shape");
      dims.push_back(std::stoll(s_.substr(start, i_ - start)));
      if (dims.size() > 8) fail("more than 8 dimensions");
      skip();
      if (peek() == ',') ++i_;
    }
  }

  const std::string& s_;
  std::string what_;
  std::size_t i_ = 0;
};

// Fortran order: element (i0, i1, ..., ik) at i0 + d0 (i1 + d1 (...)). Reverse the axes into C order.
void fortran_to_c(NpyArray& a) {
  const std::size_t nd = a.shape.size();
  if (nd < 2) return;
  const std::int64_t n = a.size(), item = a.item_size;
  std::vector<unsigned char> out(a.data.size());
  std::vector<std::int64_t> index(nd, 0);
  for (std::int64_t c = 0; c < n; ++c) {  // c: C-order position; index: its multi-index
    std::int64_t f = 0, stride = 1;
    for (std::size_t k = 0; k < nd; ++k) {
      f += index[k] * stride;
      stride *= a.shape[k];
    }
    std::memcpy(out.data() + c * item, a.data.data() + f * item, item);
    for (std::size_t k = nd; k-- > 0;) {
      if (++index[k] < a.shape[k]) break;
      index[k] = 0;
    }
  }
  a.data.swap(out);
}

}  // namespace

std::int64_t NpyArray::size() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

NpzArchive::NpzArchive(const std::string& path, std::int64_t budget) : path_(path), budget_left_(budget) {
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) throw NpzError(path + ": cannot open (" + std::strerror(errno) + ")");
  if (std::fseek(file_, 0, SEEK_END) != 0) fail("cannot seek (not a regular file?)");
  const long size = std::ftell(file_);
  if (size < 22) fail("too short to be an .npz (zip) file");
  file_size_ = static_cast<std::uint64_t>(size);

  // The end-of-directory record: the last 22 bytes, or earlier behind an archive comment (at most 65535 bytes).
  const std::uint64_t tail = std::min<std::uint64_t>(file_size_, 22 + 65535);
  std::vector<unsigned char> end(tail);
  std::fseek(file_, static_cast<long>(file_size_ - tail), SEEK_SET);
  if (std::fread(end.data(), 1, tail, file_) != tail) fail("cannot read its end");
  std::int64_t at = -1;
  for (std::int64_t i = static_cast<std::int64_t>(tail) - 22; i >= 0; --i)
    if (le(&end[i], 4) == kEndOfDirectory) {
      at = i;
      break;
    }
  if (at < 0) fail("not a zip archive (no end-of-directory record); truncated or not an .npz file");
  std::uint64_t count = le(&end[at + 10], 2), dir_size = le(&end[at + 12], 4), dir_offset = le(&end[at + 16], 4);
  const std::uint64_t eocd_pos = file_size_ - tail + static_cast<std::uint64_t>(at);
  if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {  // zip64
    if (at < 20 || le(&end[at - 20], 4) != kZip64Locator) fail("zip64 archive without its locator");
    const std::uint64_t z64 = le(&end[at - 12], 8);
    unsigned char rec[56];
    if (z64 + 56 > file_size_ || std::fseek(file_, static_cast<long>(z64), SEEK_SET) != 0 ||
        std::fread(rec, 1, 56, file_) != 56 || le(rec, 4) != kZip64End)
      fail("corrupt zip64 end-of-directory record");
    count = le(rec + 32, 8);
    dir_size = le(rec + 40, 8);
    dir_offset = le(rec + 48, 8);
  }
  if (count > kMaxMembers) fail("claims " + std::to_string(count) + " members");
  if (dir_offset > eocd_pos || dir_size > eocd_pos - dir_offset) fail("central directory outside the file");
  std::vector<unsigned char> dir(dir_size);
  std::fseek(file_, static_cast<long>(dir_offset), SEEK_SET);
  if (std::fread(dir.data(), 1, dir_size, file_) != dir_size) fail("cannot read its central directory");

  std::uint64_t p = 0;
  for (std::uint64_t m = 0; m < count; ++m) {
    if (p + 46 > dir_size || le(&dir[p], 4) != kDirectoryEntry) fail("corrupt central directory");
    Entry e;
    e.flags = static_cast<std::uint16_t>(le(&dir[p + 8], 2));
    e.method = static_cast<std::uint16_t>(le(&dir[p + 10], 2));
    e.crc = static_cast<std::uint32_t>(le(&dir[p + 16], 4));
    e.compressed = le(&dir[p + 20], 4);
    e.uncompressed = le(&dir[p + 24], 4);
    const std::uint64_t name_len = le(&dir[p + 28], 2), extra_len = le(&dir[p + 30], 2),
                        comment_len = le(&dir[p + 32], 2);
    e.offset = le(&dir[p + 42], 4);
    if (p + 46 + name_len + extra_len + comment_len > dir_size) fail("corrupt central directory");
    const std::string name(reinterpret_cast<const char*>(&dir[p + 46]), name_len);
    // zip64 extra field: the 8-byte values of the fields whose 4-byte value is 0xFFFFFFFF, in this order
    for (std::uint64_t x = p + 46 + name_len; x + 4 <= p + 46 + name_len + extra_len;) {
      const std::uint64_t id = le(&dir[x], 2), len = le(&dir[x + 2], 2);
      if (x + 4 + len > p + 46 + name_len + extra_len) fail("corrupt extra field of member '" + name + "'");
      if (id == 0x0001) {
        std::uint64_t y = x + 4;
        for (std::uint64_t* field : {&e.uncompressed, &e.compressed, &e.offset})
          if (*field == 0xFFFFFFFF) {
            if (y + 8 > x + 4 + len) fail("corrupt zip64 field of member '" + name + "'");
            *field = le(&dir[y], 8);
            y += 8;
          }
      }
      x += 4 + len;
    }
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0)
      entries_[name.substr(0, name.size() - 4)] = e;
    p += 46 + name_len + extra_len + comment_len;
  }
}

NpzArchive::~NpzArchive() {
  if (file_ != nullptr) std::fclose(file_);
}

void NpzArchive::fail(const std::string& what) const { throw NpzError(path_ + ": " + what); }

bool NpzArchive::has(const std::string& key) const { return entries_.count(key) != 0; }

std::vector<unsigned char> NpzArchive::member_bytes(const std::string& key, const Entry& e) {
  const std::string member = "member '" + key + ".npy'";
  if (e.flags & 1) fail(member + " is encrypted");
  if (e.method != 0 && e.method != 8)
    fail(member + " uses compression method " + std::to_string(e.method) + " (only stored and deflated are read)");
  if (e.uncompressed > static_cast<std::uint64_t>(std::max<std::int64_t>(budget_left_, 0)))
    fail(member + " is " + std::to_string(e.uncompressed) + " bytes, more than the " +
         std::to_string(std::max<std::int64_t>(budget_left_, 0)) + " bytes this process may still use for the file");
  if (e.offset + 30 > file_size_) fail(member + ": local header outside the file (truncated?)");
  unsigned char local[30];
  std::fseek(file_, static_cast<long>(e.offset), SEEK_SET);
  if (std::fread(local, 1, 30, file_) != 30 || le(local, 4) != kLocalHeader) fail(member + ": corrupt local header");
  const std::uint64_t start = e.offset + 30 + le(local + 26, 2) + le(local + 28, 2);
  if (start > file_size_ || e.compressed > file_size_ - start)
    fail(member + " extends past the end of the file (truncated?)");
  if (e.method == 0 && e.compressed != e.uncompressed) fail(member + ": stored sizes disagree");
  std::vector<unsigned char> raw(e.compressed);
  std::fseek(file_, static_cast<long>(start), SEEK_SET);
  if (std::fread(raw.data(), 1, raw.size(), file_) != raw.size()) fail(member + ": cannot read its data");
  std::vector<unsigned char> out;
  if (e.method == 0) {
    out.swap(raw);
  } else {
    out.resize(e.uncompressed);
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) fail(member + ": zlib initialisation failed");
    z.next_in = raw.data();
    z.next_out = out.data();
    std::uint64_t in_left = raw.size(), out_left = out.size();
    int rc = Z_OK;
    while (rc == Z_OK) {  // in slices: avail_in/avail_out are 32-bit
      const uInt in_now = static_cast<uInt>(std::min<std::uint64_t>(in_left, 1u << 30));
      const uInt out_now = static_cast<uInt>(std::min<std::uint64_t>(out_left, 1u << 30));
      z.avail_in = in_now;
      z.avail_out = out_now;
      rc = inflate(&z, Z_NO_FLUSH);
      in_left -= in_now - z.avail_in;
      out_left -= out_now - z.avail_out;
      if (rc == Z_OK && in_now == z.avail_in && out_now == z.avail_out) rc = Z_DATA_ERROR;  // no progress
      if (rc == Z_BUF_ERROR && out_left == 0) rc = Z_DATA_ERROR;  // more output than declared
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out_left != 0)
      fail(member + ": corrupt deflate data (" +
           std::string(rc == Z_STREAM_END ? "shorter than declared" : "bad or truncated stream") + ")");
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t at = 0; at < out.size(); at += (1u << 30))
    crc = crc32(crc, out.data() + at, static_cast<uInt>(std::min<std::size_t>(out.size() - at, 1u << 30)));
  if (static_cast<std::uint32_t>(crc) != e.crc) fail(member + ": CRC-32 mismatch (the file is corrupt)");
  budget_left_ -= static_cast<std::int64_t>(out.size());
  return out;
}

NpyArray NpzArchive::read(const std::string& key) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) fail("missing key '" + key + "'");
  const std::vector<unsigned char> bytes = member_bytes(key, it->second);
  const std::string what = path_ + ": '" + key + "'";
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    throw NpzError(what + ": not an .npy array");
  const int major = bytes[6];
  std::uint64_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = le(&bytes[8], 2);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw NpzError(what + ": truncated .npy header");
    header_len = le(&bytes[8], 4);
    header_start = 12;
  } else {
    throw NpzError(what + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > 65536 || header_start + header_len > bytes.size())
    throw NpzError(what + ": truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(&bytes[header_start]), header_len);
  NpyArray a;
  bool fortran = false;
  HeaderParser(header, what).parse(a, fortran);
  if (a.kind == 'O') throw NpzError(what + ": holds Python objects (a pickle); refusing to read it");
  std::uint64_t n = 1;
  for (std::int64_t d : a.shape) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<std::uint64_t>::max() / static_cast<std::uint64_t>(d)))
      throw NpzError(what + ": impossible shape");
    n *= static_cast<std::uint64_t>(d);
  }
  const std::uint64_t body = bytes.size() - header_start - header_len;
  if (n > body / static_cast<std::uint64_t>(a.item_size) + 1 || n * a.item_size != body)
    throw NpzError(what + ": shape and data size disagree (" + std::to_string(body) + " bytes of data)");
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header_start + header_len), bytes.end());
  if (fortran) fortran_to_c(a);
  return a;
}

namespace {

// Element i of a real or integer array, with byte order.
template <class T>
T element(const NpyArray& a, std::int64_t i) {
  unsigned char b[8];
  std::memcpy(b, a.data.data() + i * a.item_size, a.item_size);
  if (a.big_endian) std::reverse(b, b + a.item_size);
  switch (a.kind) {
    case 'f': {
      if (a.item_size == 8) { double v; std::memcpy(&v, b, 8); return static_cast<T>(v); }
      if (a.item_size == 4) { float v; std::memcpy(&v, b, 4); return static_cast<T>(v); }
      break;
    }
    case 'b': return static_cast<T>(b[0] != 0);
    case 'i': {
      std::int64_t v = 0;
      std::memcpy(&v, b, a.item_size);
      const int shift = 64 - 8 * a.item_size;
      if (shift > 0) v = static_cast<std::int64_t>(static_cast<std::uint64_t>(v) << shift) >> shift;  // sign-extend
      return static_cast<T>(v);
    }
    case 'u': {
      std::uint64_t v = 0;
      std::memcpy(&v, b, a.item_size);
      return static_cast<T>(v);
    }
  }
  throw NpzError("unsupported element type");
}

}  // namespace

std::vector<double> to_doubles(const NpyArray& a, const std::string& what) {
  if (std::string("fiub").find(a.kind) == std::string::npos || (a.kind == 'f' && a.item_size < 4))
    throw NpzError(what + " must hold real numbers");
  std::vector<double> out(a.size());
  for (std::int64_t i = 0; i < a.size(); ++i) out[i] = element<double>(a, i);
  return out;
}

std::vector<std::int64_t> to_integers(const NpyArray& a, const std::string& what) {
  if (a.kind != 'i' && a.kind != 'u') throw NpzError(what + " must hold integers");
  std::vector<std::int64_t> out(a.size());
  for (std::int64_t i = 0; i < a.size(); ++i) {
    if (a.kind == 'u' && a.item_size == 8 && element<std::uint64_t>(a, i) > std::uint64_t(INT64_MAX))
      throw NpzError(what + " holds an integer beyond int64");
    out[i] = element<std::int64_t>(a, i);
  }
  return out;
}

std::string to_text(const NpyArray& a, const std::string& what) {
  if ((a.kind != 'U' && a.kind != 'S') || a.size() != 1) throw NpzError(what + " must be one string");
  std::string out;
  const int width = a.kind == 'U' ? 4 : 1;
  for (int i = 0; i < a.item_size / width; ++i) {
    std::uint32_t c = 0;
    std::memcpy(&c, a.data.data() + i * width, width);  // UCS-4 little-endian (big-endian handled below)
    if (a.big_endian && width == 4) c = ((c & 0xff) << 24) | ((c & 0xff00) << 8) | ((c >> 8) & 0xff00) | (c >> 24);
    if (c == 0) break;
    out += c < 128 ? static_cast<char>(c) : '?';
  }
  return out;
}

}  // namespace fastgdml::io
