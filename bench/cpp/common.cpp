#include "common.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <thread>

#include "fastgdml/io/model_file.hpp"
#include "fastgdml/io/npz_reader.hpp"
#include "fastgdml/linalg.hpp"

#ifndef FASTGDML_VERSION_STR
#define FASTGDML_VERSION_STR "unknown"
#endif

namespace fastgdml::bench {

std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

// ---- command line ------------------------------------------------------------------------------------------

Args::Args(int argc, char** argv, const std::vector<std::string>& valued, const std::vector<std::string>& switches) {
  auto listed = [](const std::vector<std::string>& names, const std::string& s) {
    return std::find(names.begin(), names.end(), s) != names.end();
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
    } else if (listed(switches, a)) {
      values_[a] = "";
    } else if (listed(valued, a)) {
      if (i + 1 >= argc) throw InputError(a + " needs a value");
      values_[a] = argv[++i];
    } else if (a.size() > 1 && a[0] == '-') {
      throw InputError("unknown flag " + a + " (see --help)");
    } else {
      positional_.push_back(a);
    }
  }
}

std::string Args::text(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

std::int64_t Args::integer(const std::string& flag, std::int64_t fallback, std::int64_t minimum) const {
  if (!has(flag)) return fallback;
  const std::string& s = values_.at(flag);
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size()) throw InputError(flag + " needs an integer, got '" + s + "'");
  if (v < minimum) throw InputError(flag + " must be >= " + std::to_string(minimum) + ", got " + s);
  return v;
}

double Args::real(const std::string& flag, double fallback, double minimum) const {
  if (!has(flag)) return fallback;
  const std::string& s = values_.at(flag);
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size() || !std::isfinite(v)) throw InputError(flag + " needs a number, got '" + s + "'");
  if (v < minimum) throw InputError(flag + " must be >= " + format("%g", minimum) + ", got " + s);
  return v;
}

// ---- timing ------------------------------------------------------------------------------------------------

double Timing::median() const {
  std::vector<double> s = seconds;
  std::sort(s.begin(), s.end());
  const std::size_t m = s.size() / 2;
  return s.size() % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

double Timing::min() const { return *std::min_element(seconds.begin(), seconds.end()); }

Timing time_calls(const std::function<void()>& fn, int repeats, double min_time, int warmup) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup; ++i) fn();
  Timing t;
  const auto start = clock::now();
  while (static_cast<int>(t.seconds.size()) < repeats ||
         std::chrono::duration<double>(clock::now() - start).count() < min_time) {
    const auto t0 = clock::now();
    fn();
    t.seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  return t;
}

// ---- files -------------------------------------------------------------------------------------------------

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

std::vector<double> read_geometries(const std::string& path, int n_atoms, std::int64_t& count) {
  const std::int64_t per_geometry = 3 * static_cast<std::int64_t>(n_atoms);
  if (ends_with(path, ".npz")) {
    io::NpzArchive archive(path, io::file_budget());  // NpzError names the file and the key
    io::NpyArray R = archive.read("R");
    if (R.shape.size() != 3 || R.shape[1] != n_atoms || R.shape[2] != 3 || R.shape[0] < 1)
      throw InputError(path + ": 'R' must have shape (M, " + std::to_string(n_atoms) + ", 3) with M >= 1");
    count = R.shape[0];
    return io::to_doubles(R, path + ": 'R'");
  }
  if (!ends_with(path, ".bin")) throw InputError(path + ": geometries must be an .npz (key R) or a raw float64 .bin");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path + ": cannot open");
  const std::int64_t bytes = static_cast<std::int64_t>(in.tellg());
  const std::int64_t item = per_geometry * static_cast<std::int64_t>(sizeof(double));
  if (bytes <= 0 || bytes % item != 0)
    throw InputError(path + ": " + std::to_string(bytes) + " bytes is not a whole number of geometries of " +
                     std::to_string(n_atoms) + " atoms (float64, " + std::to_string(item) + " bytes each)");
  count = bytes / item;
  std::vector<double> R(static_cast<std::size_t>(count * per_geometry));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(R.data()), bytes)) throw InputError(path + ": read failed");
  for (double r : R)
    if (!std::isfinite(r)) throw InputError(path + ": non-finite coordinate");
  return R;
}

// ---- JSON --------------------------------------------------------------------------------------------------

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += format("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// The shortest of 15 or 17 significant digits that reads back as the same double; JSON has no NaN or inf.
std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  std::string s = format("%.15g", v);
  return std::strtod(s.c_str(), nullptr) == v ? s : format("%.17g", v);
}

}  // namespace

Json& Json::put(const std::string& key, std::string rendered) {
  for (Field& f : fields_)
    if (f.key == key) {
      f.scalar = std::move(rendered);
      f.nested.reset();
      return *this;
    }
  fields_.push_back({key, std::move(rendered), nullptr});
  return *this;
}

Json& Json::set(const std::string& key, double v) { return put(key, number(v)); }
Json& Json::set(const std::string& key, std::int64_t v) { return put(key, std::to_string(v)); }
Json& Json::set(const std::string& key, bool v) { return put(key, v ? "true" : "false"); }
Json& Json::set(const std::string& key, const std::string& v) { return put(key, quoted(v)); }

Json& Json::set(const std::string& key, const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + number(v[i]);
  return put(key, s + "]");
}

Json& Json::set(const std::string& key, const Timing& t) {
  Json& o = object(key);
  o.set("median_s", t.median()).set("min_s", t.min()).set("repeats", static_cast<std::int64_t>(t.seconds.size()));
  return *this;
}

Json& Json::set(const std::string& key, const Json& v) {
  object(key) = v;
  return *this;
}

Json& Json::object(const std::string& key) {
  put(key, "");
  for (Field& f : fields_)
    if (f.key == key) return *(f.nested = std::make_shared<Json>());
  throw std::logic_error("Json::object: the key just put is missing");
}

std::string Json::dump(int indent) const {
  const std::string pad(indent + 2, ' ');
  std::string out = "{";
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const Field& f = fields_[i];
    out += (i ? ",\n" : "\n") + pad + quoted(f.key) + ": " + (f.nested ? f.nested->dump(indent + 2) : f.scalar);
  }
  return out + (fields_.empty() ? "}" : "\n" + std::string(indent, ' ') + "}");
}

void check_writable(const std::string& path) {
  std::ofstream out(path, std::ios::app);  // append: an existing file keeps its contents until the run ends
  if (!out) throw InputError(path + ": cannot open for writing");
}

void write_json(const std::string& path, const Json& json) {
  std::ofstream out(path);
  out << json.dump() << "\n";
  out.close();
  if (!out) throw InputError(path + ": cannot write the JSON output");
  std::printf("wrote %s\n", path.c_str());
}

// ---- machine -----------------------------------------------------------------------------------------------

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

Machine machine(int threads) {
  if (threads > 0) {
    omp_set_num_threads(threads);
    linalg::set_blas_threads(threads);
  }
  Machine m;
  m.cpu = cpu_model();
  m.cores = static_cast<int>(std::thread::hardware_concurrency());
  m.threads = omp_get_max_threads();
  m.blas = linalg::blas_name();
  m.blas_threads = linalg::blas_threads();
  // libgomp reads these before main. The Python package loads the core with OMP_WAIT_POLICY=PASSIVE unless the
  // user set a policy; these binaries take the environment as it is, so it is recorded (it changes timings).
  m.omp_wait_policy = env("OMP_WAIT_POLICY");
  m.omp_num_threads = env("OMP_NUM_THREADS");
  m.version = FASTGDML_VERSION_STR;
  m.compiler = __VERSION__;
  return m;
}

Json Machine::json() const {
  Json j;
  j.set("cpu", cpu).set("cores", cores).set("threads", threads).set("blas", blas).set("blas_threads", blas_threads);
  j.set("OMP_WAIT_POLICY", omp_wait_policy).set("OMP_NUM_THREADS", omp_num_threads);
  j.set("fastgdml_version", version).set("compiler", compiler);
  return j;
}

std::string Machine::line() const {
  return cpu + ", " + std::to_string(cores) + " cores; " + std::to_string(threads) + " OpenMP threads, BLAS " + blas +
         " on " + std::to_string(blas_threads) + " threads; OMP_WAIT_POLICY=" +
         (omp_wait_policy.empty() ? "(unset)" : omp_wait_policy) + "; fastgdml " + version;
}

int run_main(const char* name, const std::function<int()>& body) {
  try {
    linalg::share_threads_with_openmp();  // once, before any BLAS call (as the Python module does at import)
    return body();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", name);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
  }
  return 2;
}

}  // namespace fastgdml::bench
