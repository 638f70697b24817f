// Reading .npz files (a zip archive of .npy arrays) without Python, for the C ABI and the C++ tools.
//
// What is read is decided by the caller, member by member: nothing else in the archive is touched, so the
// pickled object arrays of sGDML model files are never even decompressed. Every size is checked before memory is
// allocated for it (against a byte budget shared by all members read from one archive), every member's CRC-32 is
// verified, and the .npy header is parsed as data (a fixed grammar of the three keys numpy writes), never
// evaluated. Members may be stored or deflated (zlib), with zip64 sizes and offsets. Errors are NpzError with a
// message naming the file and the member.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace fastgdml::io {

class NpzError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One .npy array as stored: element kind ('f' float, 'i' signed, 'u' unsigned, 'b' bool, 'U' UCS-4 string,
// 'S' bytes, 'O' object), bytes per element, byte order and shape; data in C order (Fortran-order arrays are
// transposed on reading).
struct NpyArray {
  char kind = 0;
  int item_size = 0;
  bool big_endian = false;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> data;

  std::int64_t size() const;  // number of elements
};

class NpzArchive {
 public:
  // Opens `path` and reads its central directory; `budget`: bytes all members read through this archive may
  // take together once decompressed.
  NpzArchive(const std::string& path, std::int64_t budget);
  ~NpzArchive();
  NpzArchive(const NpzArchive&) = delete;
  NpzArchive& operator=(const NpzArchive&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& key) const;  // key without ".npy"
  NpyArray read(const std::string& key);   // NpzError for a missing or malformed member

 private:
  struct Entry {
    std::uint16_t method = 0, flags = 0;
    std::uint32_t crc = 0;
    std::uint64_t compressed = 0, uncompressed = 0, offset = 0;
  };
  std::vector<unsigned char> member_bytes(const std::string& key, const Entry& e);
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t file_size_ = 0;
  std::int64_t budget_left_;
  std::map<std::string, Entry> entries_;
};

// Conversions with checks; `what` names the array in errors ("FILE: 'key'").
std::vector<double> to_doubles(const NpyArray& a, const std::string& what);       // real kinds f, i, u, b
std::vector<std::int64_t> to_integers(const NpyArray& a, const std::string& what);  // integer kinds i, u only
std::string to_text(const NpyArray& a, const std::string& what);                  // a 0-d or 1-element U/S array

}  // namespace fastgdml::io
