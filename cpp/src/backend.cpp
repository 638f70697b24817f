#include "fastgdml/backend.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>

#include "cpu/cpu_backend.hpp"

#ifndef FASTGDML_VERSION_STR
#error "FASTGDML_VERSION_STR must be defined by the build (CMakeLists.txt)"
#endif

namespace fastgdml {
namespace {

// The entry point a backend library exports (cuda/cuda_backend.cu): given the loading core's version, it gives
// its backend's name and factory, or returns nonzero with a message.
using BackendEntry = int (*)(const char* core_version, const char** name, BackendFactory* factory, char* error,
                             std::size_t error_size);
constexpr const char* kEntryName = "fastgdml_backend_entry_v1";

// The one process-wide table of backends: what a process can compute on is a fact about the process (which
// shared objects are loaded), so it lives here rather than in any caller. Guarded by its own mutex. Also what
// each library path gave when it was loaded (its backend's name, or why it failed), so that a failed load is
// reported the same way every time and never retried.
struct Registry {
  std::mutex mutex;
  std::map<std::string, BackendFactory> factories;
  std::map<std::string, std::string> loaded, failed;  // path -> backend name / error message
};

Registry& registry() {
  static Registry* r = [] {
    auto* made = new Registry;  // never destroyed: backends may be made during static destruction elsewhere
    made->factories["cpu"] = [] { return cpu::make_cpu_backend(); };
    return made;
  }();
  return *r;
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool plain_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

// The folder of the shared object (or program) that holds this code: where the wheel puts the backend libraries
// (fastgdml/_core.so with fastgdml/lib/, or fastgdml/lib/libfastgdml.so beside them).
std::string own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_folder), &info) == 0 || info.dli_fname == nullptr) return ".";
  const std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Where the library of backend `name` would be: $FASTGDML_<NAME>_LIBRARY, else beside this code or in its lib/.
std::vector<std::string> library_candidates(const std::string& name) {
  std::string env_name = "FASTGDML_";
  for (char c : name) env_name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  env_name += "_LIBRARY";
  if (const char* set = std::getenv(env_name.c_str()); set != nullptr && *set != '\0') return {set};
  const std::string folder = own_folder(), file = "libfastgdml_" + name + ".so";
  return {folder + "/" + file, folder + "/lib/" + file};
}

std::string found_library(const std::string& name) {
  if (!plain_name(name)) return "";
  for (const std::string& path : library_candidates(name))
    if (is_file(path)) return path;
  return "";
}

BackendFactory registered(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto it = r.factories.find(name);
  return it == r.factories.end() ? BackendFactory() : it->second;
}

}  // namespace

void register_backend(const std::string& name, BackendFactory factory) {
  if (name.empty() || !factory) throw std::invalid_argument("register_backend: a name and a factory are needed");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
}

std::string load_backend_library(const std::string& path) {
  Registry& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (auto it = r.loaded.find(path); it != r.loaded.end()) return it->second;
    if (auto it = r.failed.find(path); it != r.failed.end()) throw std::runtime_error(it->second);
  }
  const auto fail = [&](const std::string& message) {
    std::lock_guard<std::mutex> lock(r.mutex);
    r.failed[path] = message;
    return std::runtime_error(message);
  };
  // RTLD_LOCAL: the library's own copy of the core's helpers never interposes on this one's.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw fail("the backend library " + path + " could not be loaded: " + (why ? why : "unknown error") +
               "; if a CUDA library (libcublas, libcusolver, ...) is missing, install them with "
               "pip install 'fastgdml[cuda]'");
  }
  auto entry = reinterpret_cast<BackendEntry>(dlsym(handle, kEntryName));
  if (entry == nullptr)
    throw fail("the backend library " + path + " has no " + kEntryName + "; it is not a fastgdml backend");
  const char* name = nullptr;
  BackendFactory factory;
  char error[512] = {0};
  if (entry(FASTGDML_VERSION_STR, &name, &factory, error, sizeof error) != 0 || name == nullptr || !factory)
    throw fail("the backend library " + path + " refused to load: " + error);
  // The handle is never closed: the factory and every backend it makes point into the library.
  register_backend(name, std::move(factory));
  std::lock_guard<std::mutex> lock(r.mutex);
  r.loaded[path] = name;
  return name;
}

std::vector<std::string> backend_names() {
  for (const std::string& name : {std::string("cuda")}) {  // the backend libraries a build may ship
    const std::string path = found_library(name);
    if (!path.empty() && !registered(name)) try {
        load_backend_library(path);
      } catch (const std::runtime_error&) {
        // not loadable here: not a registered name (backend_status says why)
      }
  }
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& entry : r.factories) names.push_back(entry.first);
  return names;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  BackendFactory factory = registered(name);
  if (!factory) {
    const std::string path = found_library(name);
    if (!path.empty()) {
      load_backend_library(path);  // std::runtime_error naming the missing library and the fix
      factory = registered(name);
    }
  }
  if (!factory) {
    std::string known;
    for (const std::string& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
    std::string hint;
    if (name == "cuda")
      hint = " (this build has no CUDA backend: libfastgdml_cuda.so is not in " + own_folder() +
             " or its lib/; build fastgdml where nvcc and cuBLAS are found, see the README)";
    throw std::invalid_argument("unknown backend '" + name + "'; available: " + known + hint);
  }
  return factory();
}

std::vector<BackendStatus> backend_status() {
  std::vector<BackendStatus> out;
  std::vector<std::string> names = backend_names();
  if (std::find(names.begin(), names.end(), "cuda") == names.end()) names.push_back("cuda");
  for (const std::string& name : names) {
    BackendStatus s;
    s.name = name;
    try {
      s.detail = make_backend(name)->description();
      s.usable = true;
    } catch (const std::exception& e) {
      s.detail = e.what();
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace fastgdml
