#include "fastgdml/backend.hpp"

#include <map>
#include <mutex>
#include <stdexcept>

#include "cpu/cpu_backend.hpp"

namespace fastgdml {
namespace {

// The one process-wide table of backends: what a process can compute on is a fact about the process (which
// shared objects are loaded), so it lives here rather than in any caller. Guarded by its own mutex.
struct Registry {
  std::mutex mutex;
  std::map<std::string, BackendFactory> factories;
};

Registry& registry() {
  static Registry* r = [] {
    auto* made = new Registry;  // never destroyed: backends may be made during static destruction elsewhere
    made->factories["cpu"] = [] { return cpu::make_cpu_backend(); };
    return made;
  }();
  return *r;
}

}  // namespace

void register_backend(const std::string& name, BackendFactory factory) {
  if (name.empty() || !factory) throw std::invalid_argument("register_backend: a name and a factory are needed");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
}

std::vector<std::string> backend_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& entry : r.factories) names.push_back(entry.first);
  return names;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  BackendFactory factory;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    const auto it = r.factories.find(name);
    if (it != r.factories.end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const std::string& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown backend '" + name + "'; available: " + known +
                                (name == "cuda" ? " (this build has no CUDA backend)" : ""));
  }
  return factory();
}

}  // namespace fastgdml
