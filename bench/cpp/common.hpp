// What the two standalone benchmarks share: flag parsing, timing with warm-up and repeats, geometry files, the
// machine description and a small JSON writer. The binaries link only the core library, so the numbers they
// print are the core's own, without Python or the bindings in the way.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fastgdml::bench {

// An error in the user's input (flag, file, geometry): main prints it on one line and exits with status 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- command line ------------------------------------------------------------------------------------------

// Flags of the form --name VALUE (or --name for switches) after positional arguments; `spec` lists the flags
// that take a value and `switches` those that do not, so that a typo is an error rather than a silent default.
class Args {
 public:
  Args(int argc, char** argv, const std::vector<std::string>& valued, const std::vector<std::string>& switches);

  bool help() const { return help_; }
  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string text(const std::string& flag, const std::string& fallback = "") const;
  // Integers and reals parsed in full ("10x" is an error); `minimum` bounds them from below.
  std::int64_t integer(const std::string& flag, std::int64_t fallback, std::int64_t minimum) const;
  double real(const std::string& flag, double fallback, double minimum) const;

 private:
  bool help_ = false;
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
};

// ---- timing ------------------------------------------------------------------------------------------------

struct Timing {
  std::vector<double> seconds;  // one entry per repeat
  double median() const;
  double min() const;
};

// Calls fn() `warmup` times untimed (first-touch of work arrays, BLAS thread start-up), then at least `repeats`
// times and for at least `min_time` seconds in all, timing each call.
Timing time_calls(const std::function<void()>& fn, int repeats, double min_time = 0.0, int warmup = 1);

// ---- files -------------------------------------------------------------------------------------------------

// Geometries (M x N x 3, row-major) from an .npz with key R or a raw little-endian float64 file (.bin) of
// M*N*3 values; InputError naming the file when it cannot be read or its shape does not fit n_atoms.
std::vector<double> read_geometries(const std::string& path, int n_atoms, std::int64_t& count);

bool file_exists(const std::string& path);

// ---- JSON --------------------------------------------------------------------------------------------------

// An ordered JSON object; nested objects are shared so that a section can be filled after it was attached.
class Json {
 public:
  Json& set(const std::string& key, double v);
  Json& set(const std::string& key, std::int64_t v);
  Json& set(const std::string& key, int v) { return set(key, static_cast<std::int64_t>(v)); }
  Json& set(const std::string& key, bool v);
  Json& set(const std::string& key, const std::string& v);
  Json& set(const std::string& key, const char* v) { return set(key, std::string(v)); }
  Json& set(const std::string& key, const std::vector<double>& v);
  Json& set(const std::string& key, const Timing& t);  // {"median_s", "min_s", "repeats"}
  Json& set(const std::string& key, const Json& v);     // a copy of v, nested
  Json& object(const std::string& key);                 // a nested object, created empty, to fill in place
  std::string dump(int indent = 0) const;

 private:
  struct Field {
    std::string key, scalar;  // scalar: the rendered value, unless nested is set
    std::shared_ptr<Json> nested;
  };
  Json& put(const std::string& key, std::string rendered);
  std::vector<Field> fields_;
};

// InputError naming the file unless path can be opened for writing: checked before a run, not after it.
void check_writable(const std::string& path);

// Writes `json` to path (InputError naming the file when that fails) and says so on stdout.
void write_json(const std::string& path, const Json& json);

// ---- machine -----------------------------------------------------------------------------------------------

// The description every result carries: CPU, cores, threads, BLAS, OpenMP environment, build.
struct Machine {
  std::string cpu, blas, omp_wait_policy, omp_num_threads, version, compiler;
  int cores = 0, threads = 0, blas_threads = 0;
  Json json() const;
  std::string line() const;  // the same on one printable line
};

// Sets the thread count of the OpenMP loops and BLAS when threads > 0 (else leaves the OpenMP default), then
// describes the machine.
Machine machine(int threads);

// The main() of both binaries: runs body, turns InputError and the core's std::exception into one line on
// stderr ("NAME: error: ...") and exit status 2.
int run_main(const char* name, const std::function<int()>& body);

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace fastgdml::bench
